// Chapter 4's character LSTM on the reader's text: the exported one-step cell
// (x_t, h, c) -> (logits, h', c', gates) is looped here, one character at a time, exactly as
// the chapter's equations run. Shows the next-character distribution, a sampled continuation,
// and the gates and cell state of a few units, character by character.
import {
  attach, debounce, drawDistribution, drawShadedText, encode, finish, generator, int64,
  openSession, parts, readModel, sample, softmax,
} from "./runtime.js";

const SHOWN_CHARACTERS = 160; // the heatmap shows the last this many characters
const CONTINUATION = 120;
const TEMPERATURE = 0.8;

for (const root of document.querySelectorAll('.r2t-live[data-widget="lstm"]')) setUp(root);

function setUp(root) {
  const { input, status, ...boxes } = parts(root);
  const choice = root.querySelector("select");
  let info = null, ort = null, session = null, last = null, seed = 1, latest = 0;

  function render(result) {
    drawDistribution(boxes.next, info, result.probs);
    boxes.more.textContent = result.continuation ?? "";
    const what = choice.value; // "cell" or one of info.gates
    const g = info.gates.indexOf(what);
    const text = [...result.text].slice(-SHOWN_CHARACTERS);
    const offset = [...result.text].length - text.length;
    const rows = info.units.map((unit, k) => {
      const values = text.map((_, t) => (g < 0 ? Math.tanh(result.cell[offset + t][k])
        : result.gates[offset + t][g][k]));
      return drawShadedText(text.join(""), values, {
        lo: g < 0 || what === "candidate" ? -1 : 0, hi: 1, label: `unit ${unit}`,
        title: `unit ${unit}, `,
      });
    });
    boxes.heat.replaceChildren(...rows);
  }

  async function run() {
    const mine = ++latest;
    const { ids, dropped } = encode(info, input.value);
    if (!ids.length) {
      status.textContent = "Type at least one character of the model's alphabet.";
      return;
    }
    root.dataset.state = "running";
    const H = info.hidden_size;
    let h = new Float32Array(H), c = new Float32Array(H), logits = null;
    const step = async (id) => {
      const r = await session.run({
        x: int64(ort, [id], [1]),
        h: new ort.Tensor("float32", h, [1, H]),
        c: new ort.Tensor("float32", c, [1, H]),
      });
      h = r.h_next.data; c = r.c_next.data; logits = r.logits.data;
      return r.gates.data; // (1, 4, H)
    };
    const gates = [], cell = [];
    const started = performance.now();
    for (const id of ids) {
      const all = await step(id);
      gates.push(info.gates.map((_, g) => info.units.map((u) => all[g * H + u])));
      cell.push(info.units.map((u) => c[u]));
    }
    const msPerChar = (performance.now() - started) / ids.length;
    const probs = softmax(logits);
    const random = generator(seed);
    let continuation = "", p = softmax(logits, TEMPERATURE);
    for (let i = 0; i < CONTINUATION; i++) {
      const next = sample(p, random);
      continuation += info.alphabet[next];
      await step(next);
      p = softmax(logits, TEMPERATURE);
    }
    if (mine !== latest) return; // the reader typed on; a newer run will draw
    const text = ids.map((i) => info.alphabet[i]).join("");
    last = { text, probs, gates, cell, msPerChar, continuation };
    finish(root, last, render,
      `${ids.length} characters read in ${msPerChar.toFixed(2)} ms each in your browser`, dropped);
  }

  const again = root.querySelector("button");
  const start = async () => {
    info = await readModel(root.dataset.model);
    ({ ort, session } = await openSession(info));
    input.addEventListener("input", debounce(run));
    choice.addEventListener("change", () => last && render(last));
    again.addEventListener("click", () => { seed += 1; run(); });
    await run();
  };
  const fallback = async () => {
    info = info ?? await readModel(root.dataset.model);
    last = { ...info.default, continuation: "" };
    choice.addEventListener("change", () => render(last));
    render(last);
  };
  attach(root, { start, fallback });
}
