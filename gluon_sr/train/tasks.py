"""The training tasks by name: the one place that knows them all."""
from gluon_sr.train.adain_task import AdaINTask
from gluon_sr.train.gan_task import GANTask
from gluon_sr.train.sr_task import SRTask
from gluon_sr.train.style_task import StyleTask

TASKS = {"sr": SRTask, "style": StyleTask, "gan": GANTask, "adain": AdaINTask}
