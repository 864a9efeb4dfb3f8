"""The theory catalogue, generated from the experiment registry, the claims catalogue
(``valleys.claims``) and the stored verdicts under ``docs/verdicts/`` — nothing hand-written.

Pages: ``catalogue/index.md`` (claim ID -> experiment -> verdict, errata, disagreements) and
one page per source document (its claims, and per experiment: the claims it checks with
their statements and hypotheses, what is measured, each check with its kind, the
quick-preset verdict and, where stored, the full-preset verdict, the figures, the code).
"""

from __future__ import annotations

import html
import importlib
import inspect
import json
import re
import sys
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))

from griffe_rst import markdown_docstring  # noqa: E402

from valleys import claims  # noqa: E402
from valleys.experiments.registry import all_experiments  # noqa: E402

VERDICTS = ROOT / "docs" / "verdicts"
PRESETS = ("quick", "full")
BADGE = {"agrees": '<span class="v-pass">agrees</span>', "disagrees": '<span class="v-fail">disagrees</span>',
         None: '<span class="v-none">not stored</span>'}
MARK = {"passed": '<span class="v-pass">pass</span>', "failed": '<span class="v-fail">fail</span>'}


def badge(outcome: str | None) -> str:
    """The verdict's outcome as a coloured word (undecided outcomes in neutral grey)."""
    return BADGE.get(outcome, f'<span class="v-none">{outcome}</span>')


def mark(check: dict) -> str:
    """A check's status as a coloured word (stored runs before statuses: from ``passed``)."""
    state = check.get("status") or ("passed" if check["passed"] else "failed")
    return MARK.get(state, f'<span class="v-none">{state}</span>')


def outcome_of(verdict: dict) -> str:
    """A stored verdict's outcome (runs stored before outcomes: agrees or disagrees)."""
    return verdict.get("outcome") or ("agrees" if verdict["passed"] else "disagrees")


def text(value) -> str:
    """``value`` as inline Markdown text that nothing re-interprets (table-safe)."""
    escaped = html.escape(str(value), quote=False)
    for char, entity in (("|", "&#124;"), ("*", "&#42;"), ("_", "&#95;"), ("[", "&#91;"), ("]", "&#93;"),
                         ("`", "&#96;"), ("\\", "&#92;"), ("$", "&#36;"), ("\n", " ")):
        escaped = escaped.replace(char, entity)
    return escaped


def number(value) -> str:
    """A measured or expected value, short."""
    if isinstance(value, float):
        return text(f"{value:.4g}")
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return text(json.dumps(value))
    return text(value)


def stored(preset: str, name: str) -> dict | None:
    """The stored verdict, params and run record of ``name`` under ``preset``, or None."""
    folder = VERDICTS / preset / name
    if not (folder / "verdict.json").is_file():
        return None
    record = {"verdict": json.loads((folder / "verdict.json").read_text(encoding="utf-8")),
              "params": json.loads((folder / "params.json").read_text(encoding="utf-8")),
              "run": json.loads((folder / "run.json").read_text(encoding="utf-8")),
              "figures": sorted(p.name for p in (folder / "figures").glob("*.png"))}
    return record


def status(record: dict | None) -> str | None:
    return None if record is None else outcome_of(record["verdict"])


#: Google-style section headers: the catalogue shows a step's description, not its Args/Returns.
SECTION = re.compile(r"^\s*(Args|Arguments|Returns|Yields|Raises|Example|Examples|Note|Notes|Attributes):\s*$")


def docstring_summary(doc: str) -> str:
    """The description of a docstring: its text before the first section header (``Args:``, ...)."""
    lines = inspect.cleandoc(doc).splitlines()
    cut = next((i for i, line in enumerate(lines) if SECTION.match(line)), len(lines))
    return "\n".join(lines[:cut]).strip()


def document_of(exp) -> str:
    return exp.source.strip()[:3]


def page_name(number: str) -> str:
    family = next(d.family for d in claims.documents() if d.number == number)
    return f"d{number}-{family.lower()}.md"


def claim_block(claim: claims.Claim) -> str:
    """The claim as an admonition: ID, kind and title on top; statement, hypotheses, erratum."""
    title = f"{claim.id} ({claim.kind}) — {claim.title}".replace('"', "'")
    lines = [claim.statement]
    if claim.hypotheses:
        lines.append("*Hypotheses:* " + "; ".join(claim.hypotheses) + ".")
    if claim.erratum:
        lines.append(f"*Erratum:* {claim.erratum}")
    if claim.checks:
        lines.append("*Checked by:* " + "; ".join(f"`{entry}`" for entry in claim.checks) + ".")
    if claim.reason:
        lines.append(f"*Why no experiment:* {claim.reason}")
    if claim.exercised_by:
        lines.append("*Exercised by:* " + ", ".join(f"`{target}`" for target in claim.exercised_by) + ".")
    return f'!!! abstract "{title}"\n' + "\n\n".join("    " + line for line in lines) + "\n"


def checks_table(verdict: dict) -> str:
    """The checks of a verdict, one row each; a check's note goes under its name (a separate
    note column made the table wider than the page)."""
    rows = ["| | kind | check | measured | expected | tolerance |", "|---|---|---|---|---|---|"]
    for check in verdict["checks"]:
        note = text(check.get("note", ""))
        name = text(check["name"]) + (f"<br><small>{note}</small>" if note else "")
        rows.append(f"| {mark(check)} | {check['kind']} | {name} | {number(check['measured'])} | "
                    f"{number(check['expected'])} | {number(check.get('tolerance', ''))} |")
    return "\n".join(rows) + "\n"


def verdict_section(preset: str, record: dict | None, name: str) -> str:
    title = f"**{preset.capitalize()}-preset verdict:**"
    if record is None:
        how = (f"`valleys run {name}` stores it; `python scripts/collect_verdicts.py runs` copies it to "
               f"`docs/verdicts/full/`") if preset == "full" else "`make docs-verdicts` stores it"
        return f"{title} not stored ({how}).\n"
    verdict, run = record["verdict"], record["run"]
    out = [f"{title} {badge(outcome_of(verdict))} — {text(verdict['summary'])} "
           f"(run `{run['run_id']}`, valleys {run.get('valleys_version', '')}).\n", checks_table(verdict)]
    return "\n".join(out)


def experiment_entry(exp) -> str:
    cited = claims.cited_ids(exp.claim)
    catalogue = claims.load()
    module = importlib.import_module(exp.module)
    measured = markdown_docstring((module.__doc__ or "").strip())
    if exp.parts is not None and exp.parts.measure.__doc__:
        measured += "\n\n*Measure step:* " + markdown_docstring(docstring_summary(exp.parts.measure.__doc__))
    quick, full = stored("quick", exp.name), stored("full", exp.name)
    out = [f"## `{exp.name}` {{#{exp.name}}}\n",
           f"**Checks:** {text(exp.claim)}\n",
           "\n".join(claim_block(catalogue[c]) for c in cited),
           f"**Source:** {text(exp.source)}\n",
           f"**What is measured.** {measured}\n",
           verdict_section("quick", quick, exp.name)]
    if quick and quick["figures"]:
        for fig in quick["figures"]:
            out.append(f"![{exp.name}: {fig}](../verdicts/quick/{exp.name}/figures/{fig}){{ loading=lazy }}\n")
    out.append(verdict_section("full", full, exp.name))
    if quick:
        params = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in sorted(quick["params"].items()))
        out.append(f"??? note \"Quick-preset parameters\"\n    {params}\n")
    out.append(f"**Code:** [`{exp.module}`][{exp.module}] (API reference) · run it: "
               f"`valleys run {exp.name} --quick` · `valleys show {exp.name}`\n")
    return "\n".join(out)


def document_page(document: claims.Document, experiments: list) -> str:
    cited = {c for e in experiments for c in claims.cited_ids(e.claim)}
    out = [f"# {document.number} — {document.title}\n",
           f"*Setting.* {document.setting}\n",
           f"{len(experiments)} experiment(s) check {len(cited)} of this document's {len(document.claims)} "
           "catalogued claims; the others are listed at the end.\n"]
    out.extend(experiment_entry(e) for e in experiments)
    rest = [c for c in document.claims if c.id not in cited]
    if rest:
        out.append("## Claims no experiment cites\n")
        out.append("Each is checked by a named check of an experiment above, or says why no experiment "
                   "checks it and what exercises it.\n")
        out.extend(claim_block(c) for c in rest)
    return "\n".join(out)


def index_page(by_document: dict[str, list]) -> str:
    out = ["# Theory catalogue\n",
           "Each claim of the five source documents that an experiment checks, with the verdict of its "
           "stored runs. The page is generated at build time from the experiment registry, the project's "
           "claims catalogue (`valleys.claims`) and the verdicts stored under `docs/verdicts/` "
           "(quick preset: `make docs-verdicts`; full preset: runs copied by `scripts/collect_verdicts.py`).\n",
           "## Claims, experiments and verdicts\n",
           "| claim | kind | experiment | quick preset | full preset |", "|---|---|---|---|---|"]
    catalogue = claims.load()
    disagreements, errata = [], []
    for doc_number, experiments in by_document.items():
        page = page_name(doc_number)
        for exp in experiments:
            quick, full = stored("quick", exp.name), stored("full", exp.name)
            for cid in claims.cited_ids(exp.claim):
                out.append(f"| {cid} | {catalogue[cid].kind} | [`{exp.name}`]({page}#{exp.name}) | "
                           f"{badge(status(quick))} | {badge(status(full))} |")
            for preset, record in (("quick", quick), ("full", full)):
                if record is None:
                    continue
                for check in record["verdict"]["checks"]:
                    if check["kind"] == "erratum":
                        errata.append((exp.name, page, preset, check))
                    if (check.get("status") or ("passed" if check["passed"] else "failed")) == "failed":
                        disagreements.append((exp.name, page, preset, check))
    out.append("\n## Errata\n")
    out.append("Where a source's text is wrong, as the claims catalogue records it; the experiment's erratum "
               "check (a check of kind *erratum* passes when the error is confirmed) is listed below.\n")
    out += ["| claim | erratum |", "|---|---|"]
    for claim in catalogue.values():
        if claim.erratum:
            page = page_name(claim.document)
            out.append(f"| [{claim.id}]({page}) | {claim.erratum} |")
    out += ["\n| experiment | preset | erratum check | measured | note |", "|---|---|---|---|---|"]
    for name, page, preset, check in errata:
        out.append(f"| [`{name}`]({page}#{name}) | {preset} | {mark(check)} {text(check['name'])} | "
                   f"{number(check['measured'])} | {text(check.get('note', ''))} |")
    out.append("\n## Disagreements\n")
    n_full = sum(1 for exps in by_document.values() for e in exps if stored("full", e.name) is not None)
    out.append(f"From the stored verdicts: {n_full} of {sum(len(v) for v in by_document.values())} experiments "
               "have a stored full-preset verdict. The disagreements last measured with the full presets, and "
               "their measured reasons, are described in the user guide "
               "([Run store and reports](../guide/runs.md#full-presets-that-disagree-and-why)).\n")
    if not disagreements:
        out.append("No stored verdict disagrees: every check of every stored run passed.\n")
    else:
        out += ["| experiment | preset | check | measured | expected | reason (the check's note) |",
                "|---|---|---|---|---|---|"]
        for name, page, preset, check in disagreements:
            out.append(f"| [`{name}`]({page}#{name}) | {preset} | {text(check['name'])} | {number(check['measured'])} "
                       f"| {number(check['expected'])} | {text(check.get('note', ''))} |")
    return "\n".join(out) + "\n"


def main() -> None:
    by_document: dict[str, list] = {d.number: [] for d in claims.documents()}
    for exp in all_experiments():
        by_document[document_of(exp)].append(exp)
    nav = mkdocs_gen_files.Nav()
    with mkdocs_gen_files.open("catalogue/index.md", "w") as page:
        page.write(index_page(by_document))
    nav["Summary"] = "index.md"
    for document in claims.documents():
        name = page_name(document.number)
        with mkdocs_gen_files.open(f"catalogue/{name}", "w") as page:
            page.write(document_page(document, by_document[document.number]))
        nav[f"{document.number} {document.family}"] = name
    with mkdocs_gen_files.open("catalogue/SUMMARY.md", "w") as summary:
        summary.writelines(nav.build_literate_nav())


main()
