"""liaison: records of university leaders' paired contact with students (领导干部结对联系学生)."""

__version__ = "0.1.0"
