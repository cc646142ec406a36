"""The verification report: Markdown (Chinese or English) and the same content as JSON, from run folders.

`collect` reads what the console left on disk (launch, facts, log phases, diagnoses, stage results,
comparisons, environment), `sections_*` turn it into the eight sections of the hand-written reports as
blocks (paragraphs, tables, code) that cite the files they came from, `redact` removes anything that
looks like a secret, `render_md` draws the Markdown, `build` ties them together. Nothing is measured here:
a section without evidence says "not run" and the command that would produce it.
"""
