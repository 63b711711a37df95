"""What a `prepare` run did: files read, examples made, files skipped and why (`summary.json`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from spectrogen.data.sources.base import conversion_hint, describe_files

#: skipped files listed one per line when printing; the rest are counted (all are in summary.json)
PRINTED_PROBLEMS = 20


@dataclass
class PrepareSummary:
    """The account of one `prepare` run; `to_dict()` is what `summary.json` holds."""

    source: str
    kind: str
    out: str
    representation: str = ""
    files_found: int = 0  # items the source listed (files, streams, generated clips)
    files_read: int = 0  # decoded without error
    files_used: int = 0  # contributed at least one example
    examples: int = 0  # examples written (windows of recordings, or ready-made examples)
    windows_silent: int = 0  # windows dropped as quieter than the silence threshold
    windows_short: int = 0  # partial windows dropped at the ends of recordings
    examples_per_class: dict[str, int] = field(default_factory=dict)
    files_per_class: dict[str, int] = field(default_factory=dict)  # files that gave an example
    slicing: str = ""  # recordings: "onset" (one example per file) or "windows"
    slicing_reason: str = ""
    shape: list[int] = field(default_factory=list)  # [N, F, T]
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"file", "reason"}: nothing used
    notes: list[dict[str, str]] = field(default_factory=list)  # {"file", "note"}: used, with a remark
    ignored: dict[str, int] = field(default_factory=dict)  # files of other types in the folder, by suffix
    limit_reached: bool = False
    seconds: float = 0.0

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append({"file": name, "reason": reason})

    def file_used(self, class_name: str) -> None:
        self.files_used += 1
        self.files_per_class[class_name] = self.files_per_class.get(class_name, 0) + 1

    def note(self, name: str, note: str) -> None:
        self.notes.append({"file": name, "note": note})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        """Returns the summary as the lines printed at the end of `spectrogen prepare`."""
        lines = [f"prepared {self.out} from {self.source} ({self.kind}, representation {self.representation})"]
        lines.append(f"  files: {self.files_found} found, {self.files_read} read, {self.files_used} used, "
                     f"{len(self.skipped)} skipped")
        made = f"  examples: {self.examples}"
        if len(self.shape) == 3:
            made += f" of {self.shape[1]} x {self.shape[2]}"
        dropped = [f"{n} {what}" for n, what in ((self.windows_silent, "silent"), (self.windows_short, "short"))
                   if n]
        if dropped:
            made += f"; windows dropped: {', '.join(dropped)}"
        if self.limit_reached:
            made += " (stopped at --limit)"
        lines.append(made)
        if self.ignored:
            lines.append(f"  ignored (not {self.kind} files): {describe_files(self.ignored)}{conversion_hint(self.ignored)}")
        if self.slicing:
            lines.append(f"  slicing: {self.slicing}: {self.slicing_reason}")
        if any(self.examples_per_class):
            if self.files_per_class:
                lines.append("  classes (files -> examples): " + ", ".join(
                    f"{name} {self.files_per_class.get(name, 0)} -> {n}" for name, n in self.examples_per_class.items()))
            else:
                lines.append("  classes: " + ", ".join(f"{name} {n}" for name, n in self.examples_per_class.items()))
        for title, entries, key in (("skipped", self.skipped, "reason"), ("notes", self.notes, "note")):
            if entries:
                lines.append(f"  {title}:")
                lines += [f"    {entry['file']}: {entry[key]}" for entry in entries[:PRINTED_PROBLEMS]]
                if len(entries) > PRINTED_PROBLEMS:
                    lines.append(f"    ... and {len(entries) - PRINTED_PROBLEMS} more (see summary.json)")
        lines.append(f"  took {self.seconds:.1f} s" if self.seconds >= 1 else f"  took {self.seconds:.2f} s")
        return "\n".join(lines)
