// Chapter 7's character Transformer on the reader's text: one run over the window (its last
// max_len characters) gives the next-character distribution and every head's attention
// weights; a continuation re-reads the window for each new character, as the model must.
import {
  attach, debounce, drawDistribution, drawShadedText, encode, finish, generator, int64,
  openSession, parts, readModel, sample, shown, softmax,
} from "./runtime.js";

const CONTINUATION = 120;
const TEMPERATURE = 0.8;

for (const root of document.querySelectorAll('.r2t-live[data-widget="transformer"]')) setUp(root);

function setUp(root) {
  const { input, status, ...boxes } = parts(root);
  const position = root.querySelector('input[type="range"]');
  const where = root.querySelector(".r2t-live-position");
  let info = null, ort = null, session = null, last = null, seed = 1, latest = 0;

  // attention(l, h, q) -> weights of head h in layer l from query position q over 0..q
  function render(result) {
    drawDistribution(boxes.next, info, result.probs);
    boxes.more.textContent = result.continuation ?? "";
    const chars = [...result.text];
    position.max = String(chars.length);
    if (Number(position.value) > chars.length || !position.dataset.moved) {
      position.value = String(chars.length);
    }
    const q = Number(position.value) - 1;
    where.textContent = `position ${q + 1} of ${chars.length}: "${shown(chars[q])}"`;
    const rows = [];
    for (let l = 0; l < info.n_layers; l++) {
      for (let h = 0; h < info.n_heads; h++) {
        const weights = result.attention(l, h, q);
        rows.push(drawShadedText(chars.slice(0, q + 1).join(""), weights,
          { lo: 0, hi: Math.max(...weights), label: `layer ${l + 1}, head ${h + 1}`,
            title: `layer ${l + 1} head ${h + 1}, ` }));
      }
    }
    boxes.heat.replaceChildren(...rows);
  }

  async function forward(ids) {
    const r = await session.run({ x: int64(ort, ids, [1, ids.length]) });
    const V = info.alphabet.length, T = ids.length;
    return { logits: r.logits.data.slice((T - 1) * V, T * V), attention: r.attention.data, T };
  }

  async function run() {
    const mine = ++latest;
    const { ids: all, dropped } = encode(info, input.value);
    if (!all.length) {
      status.textContent = "Type at least one character of the model's alphabet.";
      return;
    }
    root.dataset.state = "running";
    const ids = all.slice(-info.max_len);
    const started = performance.now();
    const out = await forward(ids);
    const msWindow = performance.now() - started;
    const { T, attention: a } = out;
    const L = info.n_layers, Hn = info.n_heads;
    // (1, L, H, T, T), row-major
    const attention = (l, h, q) => Array.from(
      a.subarray(((l * Hn + h) * T + q) * T, ((l * Hn + h) * T + q) * T + q + 1));
    const random = generator(seed);
    let context = ids.slice(), continuation = "", logits = out.logits;
    for (let i = 0; i < CONTINUATION; i++) {
      const next = sample(softmax(logits, TEMPERATURE), random);
      continuation += info.alphabet[next];
      context = context.concat([next]).slice(-info.max_len);
      logits = (await forward(context)).logits;
    }
    if (mine !== latest) return;
    const text = ids.map((i) => info.alphabet[i]).join("");
    const probs = softmax(out.logits);
    last = { text, probs, continuation, attention, msWindow,
      lastAttention: Array.from({ length: L }, (_, l) => Array.from({ length: Hn },
        (_, h) => attention(l, h, T - 1))) };
    finish(root, last, render, `One pass over ${T} characters took ${msWindow.toFixed(1)} ms ` +
      "in your browser" + (all.length > ids.length ? ` (the model reads at most the last ${
        info.max_len})` : ""), dropped);
  }

  const again = root.querySelector("button");
  const start = async () => {
    info = await readModel(root.dataset.model);
    ({ ort, session } = await openSession(info));
    input.addEventListener("input", debounce(run));
    position.addEventListener("input", () => {
      position.dataset.moved = "1";
      if (last) render(last);
    });
    again.addEventListener("click", () => { seed += 1; run(); });
    await run();
  };
  const fallback = async () => {
    info = info ?? await readModel(root.dataset.model);
    const d = info.default;
    // the build kept the last position's weights only, so the position stays there
    last = { text: d.text, probs: d.probs, continuation: "", attention: (l, h) => d.attention[l][h] };
    position.disabled = true;
    render(last);
  };
  attach(root, { start, fallback });
}
