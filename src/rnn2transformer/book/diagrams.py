"""Schematic diagrams drawn as charts: the LSTM cell (chapter 4), a recurrent network unrolled
in time with the path of back-propagation (chapter 3), a pre-norm Transformer block
(chapter 7), one decoder step of an encoder-decoder with attention (chapter 5) and one step
of a matrix-state recurrence, the delta rule (chapter 11).

They are Vega-Lite charts like every figure of the book, so they render on the site, in the PDF
and in a notebook by the same path, and their text is text a screen reader can reach. Each is
built from two lists: boxes (a label at a position, with a size) and arrows (from a point to a
point). :func:`diagram` draws any such pair; the functions below are the book's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import altair as alt
import pandas as pd

from .charts import TEXT

# (x, y, width, height, label, kind): kind picks the fill; "op" is a small round operation
Box = tuple[float, float, float, float, str, str]
# (x1, y1, x2, y2, style): "forward" or "backward" end in an arrowhead; "plain" is a line
# without one, to draw a bend as several segments
Arrow = tuple[float, float, float, float, str]

FILLS = {"gate": "#dbe8f5", "state": "#fdf1d6", "op": "#ffffff", "layer": "#e4f1e1",
         "input": "#f2f2f2", "loss": "#f8dede"}
STROKES = {"forward": TEXT, "backward": "#c0392b", "plain": TEXT}


def diagram(boxes: Sequence[Box], arrows: Sequence[Arrow], *, width: int = 520,
            height: int = 300, title: str = "") -> alt.LayerChart:
    """Boxes with labels and arrows between points, on a 100 x 60 canvas with no axes."""
    for box in boxes:
        if len(box) != 6 or box[5] not in FILLS:
            raise ValueError(f"a box is (x, y, width, height, label, kind) with kind in "
                             f"{sorted(FILLS)}, got {box!r}")
    for arrow in arrows:
        if len(arrow) != 5 or arrow[4] not in STROKES:
            raise ValueError(f"an arrow is (x1, y1, x2, y2, style) with style in "
                             f"{sorted(STROKES)}, got {arrow!r}")
    x = alt.X("x:Q", scale=alt.Scale(domain=[0, 100]), axis=None)
    y = alt.Y("y:Q", scale=alt.Scale(domain=[0, 60]), axis=None)
    table = pd.DataFrame(
        [{"x": bx - w / 2, "x2": bx + w / 2, "y": by - h / 2, "y2": by + h / 2, "label": label,
          "cx": bx, "cy": by, "kind": kind, "fill": FILLS[kind]}
         for bx, by, w, h, label, kind in boxes])
    lines = pd.DataFrame([{"x": x1, "y": y1, "x2": x2, "y2": y2, "color": STROKES[style],
                           "dash": style} for x1, y1, x2, y2, style in arrows])
    # an arrowhead: a triangle at the end, turned to point along the arrow (0 degrees is up)
    heads = pd.DataFrame([{"x": x2, "y": y2, "color": STROKES[style],
                           "angle": math.degrees(math.atan2(x2 - x1, y2 - y1))}
                          for x1, y1, x2, y2, style in arrows if style != "plain"])
    rects = alt.Chart(table[table.kind != "op"]).mark_rect(
        stroke=TEXT, strokeWidth=1, cornerRadius=3).encode(
        x=x, x2="x2:Q", y=y, y2="y2:Q", fill=alt.Fill("fill:N", scale=None))
    ops = alt.Chart(table[table.kind == "op"]).mark_point(
        shape="circle", size=520, filled=True, fill="#ffffff", stroke=TEXT, strokeWidth=1,
        opacity=1).encode(x=alt.X("cx:Q", scale=alt.Scale(domain=[0, 100]), axis=None),
                          y=alt.Y("cy:Q", scale=alt.Scale(domain=[0, 60]), axis=None))
    labels = alt.Chart(table).mark_text(fontSize=12, color=TEXT).encode(
        x=alt.X("cx:Q", scale=alt.Scale(domain=[0, 100]), axis=None),
        y=alt.Y("cy:Q", scale=alt.Scale(domain=[0, 60]), axis=None), text="label:N")
    rules = alt.Chart(lines).mark_rule(strokeWidth=1.5).encode(
        x=x, x2="x2:Q", y=y, y2="y2:Q", color=alt.Color("color:N", scale=None),
        strokeDash=alt.StrokeDash("dash:N", scale=alt.Scale(
            domain=["forward", "backward", "plain"], range=[[1, 0], [5, 3], [1, 0]]),
            legend=None))
    tips = alt.Chart(heads).mark_point(shape="triangle", size=60, filled=True, opacity=1).encode(
        x=x, y=y, angle=alt.Angle("angle:Q", scale=alt.Scale(domain=[0, 360], range=[0, 360])),
        color=alt.Color("color:N", scale=None))
    # only the layers that draw something: an empty layer still becomes an <svg> group with an
    # image role and nothing to describe, which screen readers (and axe) object to
    drawn = [(rules, len(lines)), (tips, len(heads)), (rects, int((table.kind != "op").sum())),
             (ops, int((table.kind == "op").sum())), (labels, len(table))]
    chart = alt.layer(*[layer for layer, rows in drawn if rows]).properties(width=width,
                                                                           height=height)
    return chart.properties(title=title) if title else chart


def lstm_cell() -> alt.LayerChart:
    """The LSTM cell of chapter 4: the cell state runs along the top through one multiplication
    by the forget gate and one addition; the gates read h[t-1] and x[t]."""
    boxes = [
        (6, 50, 10, 6, "c[t−1]", "state"), (94, 50, 10, 6, "c[t]", "state"),
        (30, 50, 5, 5, "×", "op"), (55, 50, 5, 5, "+", "op"),
        (22, 22, 9, 6, "σ  f", "gate"), (38, 22, 9, 6, "σ  i", "gate"),
        (52, 22, 10, 6, "tanh  g", "gate"), (68, 22, 9, 6, "σ  o", "gate"),
        (46, 36, 5, 5, "×", "op"), (82, 38, 9, 5, "tanh", "layer"), (82, 22, 5, 5, "×", "op"),
        (45, 6, 24, 6, "h[t−1], x[t]", "input"), (94, 22, 10, 6, "h[t]", "state"),
    ]
    arrows = [
        (11, 50, 27.5, 50, "forward"), (32.5, 50, 52.5, 50, "forward"),
        (57.5, 50, 89, 50, "forward"), (22, 25, 29, 47.5, "forward"),
        (38, 25, 44, 34, "forward"), (52, 25, 48, 34, "forward"),
        (46, 38.5, 53.5, 48, "forward"), (70, 50, 82, 40.5, "forward"),
        (82, 35.5, 82, 24.5, "forward"), (72.5, 22, 79.5, 22, "forward"),
        (84.5, 22, 89, 22, "forward"),
        (38, 9, 22, 19, "forward"), (42, 9, 38, 19, "forward"), (48, 9, 52, 19, "forward"),
        (52, 9, 68, 19, "forward"),
    ]
    return diagram(boxes, arrows, title="One LSTM step")


def unrolled_rnn(steps: int = 4) -> alt.LayerChart:
    """A recurrent network unrolled over ``steps`` time steps: the same weights at every step,
    the loss at the end, and back-propagation through time running back along the chain."""
    if not isinstance(steps, int) or not 2 <= steps <= 6:
        raise ValueError(f"steps must be an int from 2 to 6, got {steps!r}")
    gap = 80 / steps
    boxes, arrows = [], []
    for t in range(steps):
        cx = 12 + gap * t
        boxes += [(cx, 32, 10, 8, f"h[{t + 1}]", "state"), (cx, 8, 8, 6, f"x[{t + 1}]", "input")]
        arrows.append((cx, 11, cx, 28, "forward"))
        if t:
            arrows.append((cx - gap + 5, 34, cx - 5, 34, "forward"))  # W_hh, the same each step
            arrows.append((cx - 5, 29, cx - gap + 5, 29, "backward"))  # the gradient, back
    last = 12 + gap * (steps - 1)
    boxes.append((last, 53, 12, 6, "loss L", "loss"))
    arrows += [(last, 36, last, 50, "forward"), (last - 2, 50, last - 2, 36, "backward")]
    return diagram(boxes, arrows, height=260, title="Unrolled in time")


def transformer_block() -> alt.LayerChart:
    """The pre-norm Transformer block of chapter 7, bottom to top: layer norm, multi-head
    self-attention, a residual addition; layer norm, the feed-forward layer, a residual
    addition."""
    boxes = [
        (40, 4, 16, 5, "x  (T × d)", "input"), (40, 12, 14, 5, "LayerNorm", "layer"),
        (40, 21, 26, 6, "multi-head attention", "gate"), (40, 30, 5, 5, "+", "op"),
        (40, 38, 14, 5, "LayerNorm", "layer"), (40, 46, 26, 6, "feed-forward", "gate"),
        (40, 55, 5, 5, "+", "op"),
    ]
    arrows = [
        (40, 6.5, 40, 9.5, "forward"), (40, 14.5, 40, 18, "forward"),
        (40, 24, 40, 27.5, "forward"), (40, 32.5, 40, 35.5, "forward"),
        (40, 40.5, 40, 43, "forward"), (40, 49, 40, 52.5, "forward"),
        # the residual paths: around the attention, then around the feed-forward layer
        (48, 4, 62, 4, "plain"), (62, 4, 62, 30, "plain"), (62, 30, 42.5, 30, "forward"),
        (40, 34, 62, 34, "plain"), (62, 34, 62, 55, "plain"), (62, 55, 42.5, 55, "forward"),
    ]
    return diagram(boxes, arrows, height=320, title="A pre-norm Transformer block")


def matrix_state_step() -> alt.LayerChart:
    """One step of the delta rule (chapter 11), left to right: the matrix state S[t-1] is
    multiplied by (I - beta k k^T), which erases what it stored under the key k, then
    beta v k^T writes the new value under it; the query reads o[t] = S[t] q[t]."""
    boxes = [
        (8, 42, 13, 7, "S[t−1]", "state"), (30, 42, 5, 5, "×", "op"),
        (52, 42, 5, 5, "+", "op"), (74, 42, 11, 7, "S[t]", "state"),
        (30, 26, 18, 6, "I − β k kᵀ", "gate"), (52, 26, 14, 6, "β v kᵀ", "gate"),
        (74, 26, 5, 5, "×", "op"), (92, 26, 10, 6, "o[t]", "state"),
        (41, 8, 34, 6, "x[t] → q, k, v, β", "input"),
    ]
    arrows = [
        (14.5, 42, 27.5, 42, "forward"), (32.5, 42, 49.5, 42, "forward"),
        (54.5, 42, 68.5, 42, "forward"), (30, 29, 30, 39.5, "forward"),
        (52, 29, 52, 39.5, "forward"), (74, 38.5, 74, 28.5, "forward"),
        (76.5, 26, 87, 26, "forward"), (34, 11, 30, 23, "forward"), (48, 11, 52, 23, "forward"),
        (58, 8, 74, 8, "plain"), (74, 8, 74, 23.5, "forward"),
    ]
    return diagram(boxes, arrows, height=280, title="One step of the delta rule")


def encoder_decoder_attention(source_words: int = 4) -> alt.LayerChart:
    """One step ``t`` of chapter 5's decoder reading an encoder of ``source_words`` states.

    Bottom left, the encoder: the source words x[1..S] and the GRU states h[1..S] they feed,
    chained left to right. Right, the decoder: its previous state s[t-1] and previous word
    y[t-1]. The previous state scores every encoder state; a softmax makes the scores the
    weights a[t, j]; the context c[t] is the weighted sum of the h[j]; and the new state s[t]
    reads c[t], s[t-1] and y[t-1] before it predicts the next word y[t].
    """
    if not isinstance(source_words, int) or not 2 <= source_words <= 5:
        raise ValueError(f"source_words must be an int from 2 to 5, got {source_words!r}")
    gap = 48 / source_words
    boxes, arrows = [], []
    for j in range(source_words):
        cx = 8 + gap * j
        boxes += [(cx, 6, 8, 5, f"x[{j + 1}]", "input"), (cx, 20, 8, 6, f"h[{j + 1}]", "state")]
        arrows.append((cx, 8.5, cx, 17, "forward"))  # the word into its state
        if j:
            arrows.append((cx - gap + 4, 20, cx - 4, 20, "forward"))  # the encoder's chain
        arrows.append((cx, 23, 26 + 0.4 * (cx - 26), 33, "forward"))  # every h[j] is scored
    boxes += [
        (26, 36, 36, 6, "weights a[t,j] = softmax(scores)", "gate"),
        (26, 50, 30, 6, "context c[t] = Σ a[t,j] h[j]", "layer"),
        (66, 20, 10, 6, "s[t−1]", "state"), (84, 6, 10, 5, "y[t−1]", "input"),
        (80, 50, 10, 6, "s[t]", "state"), (94, 50, 8, 6, "y[t]", "loss"),
    ]
    arrows += [
        (61, 22, 44, 34, "forward"),  # the query: the previous decoder state scores each h[j]
        (26, 39, 26, 47, "forward"),  # the weights make the context
        (41, 50, 75, 50, "forward"),  # the decoder reads the context
        (68, 23, 78, 47, "forward"),  # and its previous state
        (84, 8.5, 82, 47, "forward"),  # and the previous word
        (85, 50, 90, 50, "forward"),  # and predicts the next word
    ]
    return diagram(boxes, arrows, height=300, title="Attention in an encoder-decoder, step t")
