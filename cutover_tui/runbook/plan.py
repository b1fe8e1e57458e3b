"""The plan as text: phases, steps, what each runs and where (``cutover validate``)."""

from __future__ import annotations

from .models import Runbook


def runbook_plan_lines(book: Runbook) -> list[str]:
    """The plan as text lines: phases, steps, what each runs and where (``cutover validate``)."""
    from ..steps import describe_step  # late: the step kinds import this package

    lines = [f"{book.runbook.title}  ({book.runbook.id}, sha256 {book.sha256[:12]})"]
    for name, host in book.hosts.items():
        droplet = f", droplet {host.droplet}" if host.droplet else ""
        lines.append(f"  host {name}: {host.user}@{host.address}:{host.port}{droplet}  {host.role}")
    for phase in book.all_phases:
        label = "Rollback" if phase is book.rollback else f"Phase {phase.id}"
        lines.append("")
        lines.append(f"{label}: {phase.title}  (planned {phase.duration}"
                     f"{', needs a verified backup' if phase.requires_backup else ''})")
        for step in phase.steps:
            lines.append(f"  {step.id:<12} [{step.kind}] {step.title}")
            for item in describe_step(book, step):
                first, *rest = item.strip().splitlines()
                lines.append(f"  {'':<12}   {first}")
                lines += [f"  {'':<12}     {line}" for line in rest]
        for criterion in phase.success_criteria:
            lines.append(f"  {'':<12} ✓ {criterion}")
    return lines
