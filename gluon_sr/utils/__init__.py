"""Shared plumbing with no knowledge of networks: errors, process set-up, paths, atomic files,
image files, MATLAB-compatible resizing, colour spaces, logging."""
