"""Training: the task-independent loop, the tasks (SR, style) behind one interface
(task.py), checkpoints, the lr schedule, curves, and ps-lite distributed jobs."""
