"""Scaf-GRPO hint tiers: model-free Solution tier (`split`), teacher-written tiers (`teacher`), and the
resumable dataset writer (`generate`). Loading hint datasets lives in `scaffold_rl.data.scaf_schema`."""
from scaffold_rl.hints.generate import generate_hints
from scaffold_rl.hints.split import split_solution
from scaffold_rl.hints.teacher import (
    LocalHFTeacher,
    OpenAITeacher,
    Teacher,
    TeacherError,
    TeacherFatalError,
    TeacherOutputError,
    build_teacher_prompt,
    parse_teacher_output,
)

__all__ = [
    "generate_hints",
    "split_solution",
    "Teacher",
    "TeacherError",
    "TeacherFatalError",
    "TeacherOutputError",
    "LocalHFTeacher",
    "OpenAITeacher",
    "build_teacher_prompt",
    "parse_teacher_output",
]
