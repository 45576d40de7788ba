"""Submitting records to GitLab: the outbox on disk, the worker that delivers it, the push, and the
import's commit."""
