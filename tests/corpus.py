"""A small real document set with known answers (file + page), shared by integration tests."""

from __future__ import annotations

from pathlib import Path

from makedocs import make_docx, make_html, make_pdf

VOLCANO_PAGES = [
    "Volcanoes form where magma rises through the crust. Mount Etna in Sicily is one of the most "
    "active volcanoes in Europe, with frequent summit eruptions and lava fountains.",
    "Pyroclastic flows are fast avalanches of hot gas and volcanic ash. They can travel at more "
    "than 100 kilometres per hour and destroyed the Roman town of Pompeii in 79 AD.",
    "Basalt is a dark, fine-grained igneous rock made from rapidly cooled lava. The Giant's "
    "Causeway in Northern Ireland consists of about 40,000 interlocking basalt columns.",
]
ASTRONOMY_PAGES = [
    "Jupiter is the largest planet in the Solar System. Its Great Red Spot is a giant storm "
    "larger than the Earth that has lasted for centuries.",
    "A light-year is the distance light travels in one year, about 9.46 trillion kilometres. "
    "Proxima Centauri, the nearest star to the Sun, is 4.24 light-years away.",
    "Neutron stars are collapsed cores of massive stars. A teaspoon of neutron star material "
    "would weigh about a billion tonnes on Earth.",
    "Saturn's rings are made mostly of water ice particles, ranging from tiny grains to chunks "
    "as large as houses.",
]
BREAD_TEXT = (
    "Sourdough bread is leavened by a starter culture of wild yeast and lactic acid bacteria. "
    "Feed the starter with equal weights of flour and water every day. A long cold fermentation "
    "of the dough in the fridge develops a sour flavour and an open crumb."
)
# question -> (file name, page or None)
QUESTIONS = {
    "Which Roman town was destroyed by pyroclastic flows?": ("volcanoes.pdf", 2),
    "How many basalt columns make up the Giant's Causeway?": ("volcanoes.pdf", 3),
    "How far away is Proxima Centauri?": ("astronomy.pdf", 2),
    "What are Saturn's rings made of?": ("astronomy.pdf", 4),
    "How do I feed a sourdough starter?": ("bread.txt", None),
    "What is the annual rainfall of the Amazon basin in Brazil?": ("rainforest.docx", None),
}


def build_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    make_pdf(root / "volcanoes.pdf", VOLCANO_PAGES, title="Volcanoes of the World")
    make_pdf(root / "astronomy.pdf", ASTRONOMY_PAGES, title="A Short Astronomy Primer")
    (root / "bread.txt").write_text(BREAD_TEXT, encoding="utf-8")
    sub = root / "more"
    sub.mkdir(exist_ok=True)
    make_docx(sub / "rainforest.docx", [
        "The Amazon rainforest covers much of the Amazon basin in South America.",
        "The annual rainfall of the Amazon basin averages about 2,300 millimetres.",
    ], title="Rainforests")
    make_html(sub / "tea.html", "Tea", ["Green tea is made from unoxidized Camellia sinensis leaves."])
    return root
