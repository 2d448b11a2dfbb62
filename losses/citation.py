"""The structured citation a loss carries on its registration: the published method, its BibTeX, and the code its
golden cases were computed with. ``list losses``, the docs and the reports read it.

>>> from losses.citations import CSQ
>>> CSQ.short
'CSQ — Yuan et al., CVPR 2020'
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Citation:
    """A published method.

    Attributes:
        method: the name a paper's table gives it (``"CSQ"``).
        title: the paper's full title.
        authors: every author, "First Last" each, in the paper's order.
        venue: the conference or journal, short (``"CVPR"``, ``"IEEE TCSVT"``).
        year: year of publication.
        key: the BibTeX key.
        bibtex: the BibTeX entry.
        code: the repository (``owner/name``) whose released function the loss was checked against, or None.
        commit: that repository's commit the golden cases were computed at, or None.
    """

    method: str
    title: str
    authors: tuple[str, ...]
    venue: str
    year: int
    key: str
    bibtex: str
    code: str | None = None
    commit: str | None = None

    @property
    def short(self) -> str:
        """``"CSQ — Yuan et al., CVPR 2020"``: method, first author's last name, venue and year."""
        first = self.authors[0].split()[-1]
        who = first if len(self.authors) == 1 else (
            f"{first} & {self.authors[1].split()[-1]}" if len(self.authors) == 2 else f"{first} et al.")
        return f"{self.method} — {who}, {self.venue} {self.year}"

    @property
    def full(self) -> str:
        """``"CSQ: Central Similarity Quantization for ... (Yuan et al., CVPR 2020)"``: what a caption prints (the
        title alone when it starts with the method's name)."""
        named = self.title if self.title.startswith(self.method) else f"{self.method}: {self.title}"
        return f"{named} ({self.short.split(' — ', 1)[1]})"
