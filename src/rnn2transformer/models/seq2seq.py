"""The RNN encoder-decoder, and the attention that was invented for it (chapter 5).

* :class:`Encoder`: embeds the source words and runs a GRU over them (Cho et al., 2014), giving
  one state per source word and a final state.
* :class:`Seq2Seq`: a GRU decoder that writes the target one word at a time. At step ``t`` it
  reads the previous target word and a *context* vector ``c_t``, and predicts the next word
  from its new state, the context and the word it read:

  - ``attention="none"``: ``c_t`` is the encoder's final state at every step, the fixed-size
    summary of the whole source (Cho et al. 2014; Sutskever et al. 2014 gave it only as the
    decoder's first state);
  - ``"additive"``: ``c_t = sum_j a_tj h_j`` with ``a_t = softmax_j(v^T tanh(W_s s_{t-1} +
    W_h h_j))`` (Bahdanau, Cho and Bengio, 2015);
  - ``"dot"`` and ``"general"``: the scores ``s_{t-1}^T h_j`` and ``s_{t-1}^T W_a h_j``, Luong,
    Pham and Manning's (2015) score functions applied, as Bahdanau's are, to the previous state
    (Luong scores the current one, after the step).

  Padded source positions get score ``-inf``, so no weight. Training is *teacher forcing*:
  ``forward(source, target)`` feeds the true previous word at every step and returns the
  cross-entropy of every prediction (package convention ``(out, loss)``). At test time
  :func:`greedy_decode` feeds the model its own previous prediction instead, and
  :func:`beam_search` keeps the few most likely translations so far rather than one.

* :class:`TransformerSeq2Seq`: the encoder-decoder Transformer (Vaswani et al., 2017), the
  same task with no recurrence at all. The encoder is a stack of pre-norm
  :class:`~.transformer.TransformerBlock` s over the source (self-attention that sees every
  source word, padding hidden); each :class:`DecoderBlock` has three sublayers, each in a
  residual connection after a layer norm:

  - causal self-attention over the target words so far, ``x + SelfAttn(LN(x))``;
  - *cross-attention*, ``x + Attn(Q = LN(x), K = V = encoder states)``: the queries come from
    the decoder, the keys and values from the encoder, so it is Bahdanau's attention with
    queries, keys and values, one per head;
  - the feed-forward layer, ``x + FFN(LN(x))``.

  Its parameters are named as in ``torch.nn.TransformerDecoderLayer`` (``self_attn``,
  ``multihead_attn``, ``linear1``, ``linear2``, ``norm1``-``norm3``), so weights copy across.
  Teacher forcing scores every target position in one pass; :func:`greedy_decode` writes one
  word at a time, keeping each self-attention layer's keys and values (a cache) so a new word
  costs one position, not the whole prefix.

Word id 0 is padding in both languages; the decoder starts from ``bos_id`` (1) and a sentence
ends with ``eos_id`` (2), as :mod:`rnn2transformer.toy_language` lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_float, check_int, check_tensor
from .attention import KVCache, MultiHeadAttention
from .shared import check_config, evaluating
from .transformer import TransformerBlock, copy_layer_weights, sinusoidal_positions

ATTENTIONS = ("none", "additive", "dot", "general")


@dataclass
class Seq2SeqConfig:
    source_vocab_size: int  # source words, id 0 is padding
    target_vocab_size: int  # target words, ids 0, 1, 2 are padding, <bos>, <eos>
    embed_size: int = 32
    hidden_size: int = 64
    attention: str = "additive"  # "none" (the fixed-size vector), "additive", "dot", "general"
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self) -> None:
        check_int("source_vocab_size", self.source_vocab_size, minimum=2)
        check_int("target_vocab_size", self.target_vocab_size, minimum=3)
        check_int("embed_size", self.embed_size, minimum=1)
        check_int("hidden_size", self.hidden_size, minimum=1)
        check_choice("attention", self.attention, ATTENTIONS)


class Memory(NamedTuple):
    """What the decoder reads from the encoder: every state (B, S, H), the final state (B, H),
    the mask of real words (B, S), and (additive attention) the keys W_h h_j, computed once."""

    states: torch.Tensor
    final: torch.Tensor
    mask: torch.Tensor
    keys: torch.Tensor | None = None


class Encoder(nn.Module):
    """Source ids (B, S), 0-padded -> every state (B, S, H) and the final state (B, H) of the
    last real word of each sentence (padding is packed away, so it changes nothing)."""

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        self.rnn = nn.GRU(embed_size, hidden_size, batch_first=True)

    def forward(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        lengths = (source != 0).sum(dim=1)
        if bool((lengths == 0).any()):
            raise ValueError("every source sentence needs at least one word (id 0 is padding)")
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(source), lengths.cpu(),
                                                   batch_first=True, enforce_sorted=False)
        states, final = self.rnn(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True,
                                                     total_length=source.shape[1])
        return states, final[0], source != 0  # (B, S, H), (B, H), mask (B, S)


def trim_padding(source: torch.Tensor, target: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """A batch without the columns that are padding in every sentence: ``source`` cut to its
    longest sentence, ``target`` to its longest translation (``<eos>`` included), and the
    target's full width, to pad the logits back to. A batch drawn from a data set padded to
    its longest sentence is mostly shorter; the cut columns change nothing the loss reads."""
    check_tensor("source", source, ndim=2, dtype_kind="int")
    check_tensor("target", target, ndim=2, dtype_kind="int")
    if target.shape[0] != source.shape[0]:
        raise ValueError(f"source and target must hold the same number of sentences, got "
                         f"{source.shape[0]} and {target.shape[0]}")
    def used(x: torch.Tensor) -> int:  # up to the last column with a word in any sentence
        columns = (x != 0).any(dim=0).nonzero()
        return int(columns[-1]) + 1 if len(columns) else 1

    return source[:, :used(source)], target[:, :used(target)], target.shape[1]


class Seq2Seq(nn.Module):
    """Encoder, attention (or none) and decoder. ``forward(source, target) -> (logits, loss)``.

    ``target`` (B, T) holds the translation followed by ``<eos>`` and 0-padding; the decoder
    reads ``<bos>`` and then ``target[:, :-1]`` (teacher forcing). ``logits`` is (B, T, V);
    columns that are padding in every sentence of the batch are skipped (:func:`trim_padding`)
    and their logits are 0.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        if not isinstance(config, Seq2SeqConfig):
            raise TypeError(f"config must be a Seq2SeqConfig, got {type(config).__name__}")
        self.config = c = config
        H = c.hidden_size
        self.encoder = Encoder(c.source_vocab_size, c.embed_size, H)
        self.embed = nn.Embedding(c.target_vocab_size, c.embed_size, padding_idx=0)
        self.cell = nn.GRUCell(c.embed_size + H, H)  # reads [previous word; context]
        self.out = nn.Linear(H + H + c.embed_size, c.target_vocab_size)  # [state; context; word]
        if c.attention == "additive":
            self.query = nn.Linear(H, H, bias=False)  # W_s
            self.key = nn.Linear(H, H)  # W_h
            self.score = nn.Linear(H, 1, bias=False)  # v
        elif c.attention == "general":
            self.key = nn.Linear(H, H, bias=False)  # W_a

    def attend(self, state: torch.Tensor, memory: Memory) -> tuple[torch.Tensor, torch.Tensor]:
        """The context for decoder state ``state`` (B, H): ``(c_t (B, H), weights (B, S))``."""
        kind = self.config.attention
        if kind == "none":  # the fixed-size summary, whatever the decoder asks; no weights
            return memory.final, torch.zeros_like(memory.mask, dtype=state.dtype)
        if kind == "additive":  # v^T tanh(W_s s_{t-1} + W_h h_j)
            hidden = torch.tanh(self.query(state).unsqueeze(1) + memory.keys)  # (B, S, H)
            scores = self.score(hidden).squeeze(-1)
        elif kind == "dot":  # s_{t-1}^T h_j
            scores = torch.einsum("bh,bsh->bs", state, memory.states)
        else:  # s_{t-1}^T W_a h_j
            scores = torch.einsum("bh,bsh->bs", state, memory.keys)
        weights = torch.softmax(scores.masked_fill(~memory.mask, float("-inf")), dim=-1)
        return torch.einsum("bs,bsh->bh", weights, memory.states), weights  # (B, H), (B, S)

    def encode(self, source: torch.Tensor) -> Memory:
        """The encoder's :class:`Memory` for :meth:`step`."""
        check_tensor("source", source, ndim=2, dtype_kind="int")
        states, final, mask = self.encoder(source)
        keys = self.key(states) if self.config.attention in ("additive", "general") else None
        return Memory(states, final, mask, keys)

    def advance(self, embedded: torch.Tensor, state: torch.Tensor, memory: Memory
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The recurrent part of a step: the embedded previous word (B, E) and the state
        (B, H) -> the new state, the context (B, H) and the attention weights (B, S)."""
        context, weights = self.attend(state, memory)
        state = self.cell(torch.cat([embedded, context], dim=-1), state)
        return state, context, weights

    def step(self, word: torch.Tensor, state: torch.Tensor, memory: Memory
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoder step: previous words (B,), state (B, H) -> logits (B, V), new state,
        attention weights (B, S)."""
        embedded = self.embed(word)
        state, context, weights = self.advance(embedded, state, memory)
        logits = self.out(torch.cat([state, context, embedded], dim=-1))
        return logits, state, weights

    def forward(self, source: torch.Tensor, target: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if target is None:
            raise ValueError("forward needs the target (teacher forcing); to translate, use "
                             "greedy_decode")
        source, target, width = trim_padding(source, target)
        memory = self.encode(source)
        state = memory.final  # the decoder starts from the encoder's final state
        previous = torch.cat([torch.full_like(target[:, :1], self.config.bos_id),
                              target[:, :-1]], dim=1)  # teacher forcing: the true words
        # :meth:`step` at every position, with what does not depend on the previous step taken
        # out of the loop: the words are embedded at once and the output layer reads every
        # step's [state; context; word] in one product (teacher forcing knows all the words).
        embedded = self.embed(previous)  # (B, T, E)
        states, contexts = [], []
        for t in range(target.shape[1]):
            state, context, _ = self.advance(embedded[:, t], state, memory)
            states.append(state)
            contexts.append(context)
        logits = self.out(torch.cat([torch.stack(states, 1), torch.stack(contexts, 1), embedded],
                                    dim=-1))  # (B, T, V)
        loss = F.cross_entropy(logits.float().transpose(1, 2), target, ignore_index=0)
        return F.pad(logits, (0, 0, 0, width - target.shape[1])), loss  # the cut columns: 0


@torch.no_grad()
def greedy_decode(model: Seq2Seq, source: torch.Tensor, max_len: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Translate ``source`` (B, S) by feeding the model its own most likely word at each step.

    Returns the words (B, max_len), 0 after each sentence's ``<eos>``, and the attention
    weights (B, max_len, S) (zeros for ``attention="none"``). A :class:`TransformerSeq2Seq`
    decodes the same way (:meth:`TransformerSeq2Seq.greedy`); its weights are the last decoder
    block's cross-attention, averaged over the heads.
    """
    if isinstance(model, TransformerSeq2Seq):
        return model.greedy(source, max_len)
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"model must be a Seq2Seq or a TransformerSeq2Seq, got "
                        f"{type(model).__name__}")
    check_int("max_len", max_len, minimum=1)
    with evaluating(model):
        memory = model.encode(source)
        state = memory.final
        word = torch.full((source.shape[0],), model.config.bos_id, device=source.device)
        done = torch.zeros(source.shape[0], dtype=torch.bool, device=source.device)
        words, weights = [], []
        for _ in range(max_len):
            logits, state, w = model.step(word, state, memory)
            word = logits.argmax(dim=-1)
            words.append(word.masked_fill(done, 0))
            weights.append(w)
            done |= word == model.config.eos_id
    return torch.stack(words, dim=1), torch.stack(weights, dim=1)


def log_probability(model: Seq2Seq, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The model's log-probability of each translation, ``sum_t log p(y_t | y_<t, x)`` (B,),
    over the words of ``target`` (B, T) up to and including its first ``<eos>`` (all of them if
    there is none), as :func:`greedy_decode` and :func:`beam_search` write them."""
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"model must be a Seq2Seq, got {type(model).__name__}")
    with torch.no_grad(), evaluating(model):
        logits, _ = model(source, target)
    word_log_p = torch.log_softmax(logits.float(), dim=-1).gather(-1, target.unsqueeze(-1))
    is_eos = target == model.config.eos_id
    after_eos = (is_eos.cumsum(dim=1) - is_eos.long()) > 0  # past the first <eos>
    return word_log_p.squeeze(-1).masked_fill(after_eos, 0.0).sum(dim=1)


def gnmt_length_penalty(length: int | torch.Tensor, alpha: float) -> float | torch.Tensor:
    """Wu et al. (2016)'s length penalty ``lp(Y) = ((5 + |Y|) / 6) ** alpha`` for a translation
    of ``length`` words (``<eos>`` counted); a translation is ranked by ``log P(Y | X) / lp(Y)``.
    ``alpha = 0`` gives 1: the plain log-probability. The 5 keeps short translations' penalties
    close together (Wu et al. chose it); dividing by 6 makes a one-word translation's 1."""
    return ((5.0 + length) / 6.0) ** alpha


def _beam_step(log_p: torch.Tensor, scores: torch.Tensor, eos_id: int
               ) -> tuple[torch.Tensor, ...]:
    """One step of beam search for B sentences of K live hypotheses scored ``scores`` (B, K),
    given the next word's log-probabilities ``log_p`` (B, K, V).

    Every hypothesis is extended by every word, ``score + log p(word)``, and the 2K best
    extensions are ranked. An extension by ``<eos>`` finishes its hypothesis, but only if it
    ranks among the K best (so width 1 finishes exactly when greedy decoding would); the beam
    goes on with the K best extensions that do not end. (Taking 2K is enough: each hypothesis
    has one ``<eos>`` extension, so at most K of them end.) Returns, for the beam, the
    hypotheses extended (B, K), the words added (B, K) and the new scores (B, K); and, for the
    best hypothesis that finished at this step, its parent (B,) and score (B,), -inf if none.
    """
    B, K, V = log_p.shape
    total = (scores.unsqueeze(-1) + log_p).view(B, K * V)
    values, index = total.topk(2 * K, dim=-1)  # best first
    ends = index % V == eos_id
    finishes = ends & (torch.arange(2 * K, device=log_p.device) < K)
    finish_score, at = values.masked_fill(~finishes, float("-inf")).max(dim=1)
    finish_parent = index.gather(1, at.unsqueeze(1)).squeeze(1) // V
    keep = torch.sort(ends.long(), dim=1, stable=True).indices[:, :K]  # non-ending, in order
    index = index.gather(1, keep)
    return index // V, index % V, values.gather(1, keep), finish_parent, finish_score


@torch.no_grad()
def beam_search(model: Seq2Seq, source: torch.Tensor, max_len: int, *, beam_width: int,
                length_penalty: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Translate ``source`` (B, S) keeping, for each sentence, the ``beam_width`` most likely
    partial translations by total log-probability ``sum_t log p(y_t | y_<t, x)``.

    Each step extends every kept hypothesis by every word and keeps the ``beam_width`` best
    (:func:`_beam_step`; Sutskever et al., 2014, found 2 gave most of the gain of 12). One that
    writes ``<eos>`` leaves the beam, finished, and the best finished one is remembered; the
    search stops when no live hypothesis can beat it (a log-probability only falls as words
    are added) or after ``max_len`` words. Returns the best finished translation (the best
    live one if none finished): words (B, max_len), 0 after ``<eos>`` as in
    :func:`greedy_decode`, and their log-probability (B,), never length-normalised. Width 1
    (without a length penalty) is greedy decoding. All sentences are searched at once, as
    B * beam_width rows of one batch.

    Each word costs a log-probability <= 0, so the plain score prefers short translations.
    ``length_penalty`` is Wu et al. (2016)'s alpha (:func:`gnmt_length_penalty`; they used
    0.6-0.7): finished translations are compared by ``log P / lp``, which divides a longer
    translation's larger cost by a larger number. Live hypotheses all have the same length, so
    the penalty never changes which are kept. The toy language's translation has as many words
    as its source, so the default is 0 (off).
    """
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"model must be a Seq2Seq, got {type(model).__name__}")
    check_int("max_len", max_len, minimum=1)
    K = check_int("beam_width", beam_width, minimum=1)
    alpha = check_float("length_penalty", length_penalty, minimum=0.0)
    with evaluating(model):
        memory = model.encode(source)  # checks source
        B, device, eos = source.shape[0], source.device, model.config.eos_id
        memory = Memory(*(None if m is None else m.repeat_interleave(K, dim=0) for m in memory))
        state = memory.final  # (B * K, H): K copies of each sentence's start
        word = torch.full((B * K,), model.config.bos_id, device=device)
        scores = torch.full((B, K), float("-inf"), device=device)
        scores[:, 0] = 0.0  # one hypothesis to start from; its copies must not be kept too
        words = torch.zeros(B, K, 0, dtype=torch.long, device=device)
        best_words = torch.zeros(B, max_len, dtype=torch.long, device=device)
        best_score = torch.full((B,), float("-inf"), device=device)
        best_rank = best_score.clone()  # best_score / lp(its length)
        rows = torch.arange(B, device=device)
        for t in range(max_len):
            logits, state, _ = model.step(word, state, memory)
            log_p = torch.log_softmax(logits.float(), dim=-1).view(B, K, -1)
            parent, new, scores, f_parent, f_score = _beam_step(log_p, scores, eos)
            f_rank = f_score / gnmt_length_penalty(t + 1, alpha)
            better = f_rank > best_rank
            finished = F.pad(words[rows, f_parent], (0, 1), value=eos)  # (B, t + 1)
            best_words[better] = F.pad(finished, (0, max_len - t - 1))[better]
            best_score = torch.where(better, f_score, best_score)
            best_rank = torch.where(better, f_rank, best_rank)
            words = torch.cat([words.gather(1, parent.unsqueeze(-1).expand_as(words)),
                               new.unsqueeze(-1)], dim=-1)
            state, word = state[(parent + K * rows.unsqueeze(1)).view(-1)], new.view(-1)
            # The best a live hypothesis could still reach: its score now, over lp(max_len).
            reach = scores[:, 0] / gnmt_length_penalty(max_len, alpha)
            if bool((best_rank >= reach).all()):
                break
        found = best_rank > float("-inf")
        live = F.pad(words[:, 0], (0, max_len - words.shape[-1]))  # sentences none finished
        return (torch.where(found.unsqueeze(1), best_words, live),
                torch.where(found, best_score, scores[:, 0]))


def exact_match(model: Seq2Seq, source: torch.Tensor, target: torch.Tensor,
                batch_size: int = 512) -> torch.Tensor:
    """For each sentence, whether greedy decoding reproduces ``target`` exactly (up to and
    including ``<eos>``): a bool tensor (N,). Works for both families of this module."""
    check_tensor("source", source, ndim=2, dtype_kind="int")
    check_tensor("target", target, ndim=2, dtype_kind="int")
    check_int("batch_size", batch_size, minimum=1)
    if len(source) != len(target):
        raise ValueError(f"source and target must hold as many sentences, got {len(source)} "
                         f"and {len(target)}")
    device = next(model.parameters()).device
    hits = []
    for i in range(0, len(source), batch_size):
        src, tgt = source[i : i + batch_size].to(device), target[i : i + batch_size].to(device)
        words, _ = greedy_decode(model, src, tgt.shape[1])
        hits.append(((words == tgt) | (tgt == 0)).all(dim=1).cpu())
    return torch.cat(hits)


# --- the encoder-decoder Transformer --------------------------------------------------------

@dataclass
class TransformerSeq2SeqConfig:
    source_vocab_size: int  # source words, id 0 is padding
    target_vocab_size: int  # target words, ids 0, 1, 2 are padding, <bos>, <eos>
    d_model: int = 32  # width of every position's vector
    n_heads: int = 4  # H, sharing d_model evenly
    n_layers: int = 2  # encoder blocks, and as many decoder blocks
    d_ff: int = 128  # feed-forward width
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self) -> None:
        check_config(self)  # every size >= 1, d_model shared evenly by the heads
        check_int("target_vocab_size", self.target_vocab_size, minimum=3)


class DecoderBlock(nn.Module):
    """A pre-norm decoder block: causal self-attention, cross-attention over the encoder's
    states, a feed-forward layer, each as ``x + sublayer(LN(x))``. (B, T, d) -> (B, T, d).

    ``forward(x, memory, memory_mask=None, need_weights=False) -> (x, weights)``: ``memory``
    (B, S, d) the encoder's states, ``memory_mask`` (B, S) True on real source words, and
    ``weights`` the cross-attention (B, H, T, S) if asked (else None). The names are
    ``torch.nn.TransformerDecoderLayer``'s (with ``norm_first=True``), so weights copy across.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int) -> None:
        super().__init__()
        check_int("d_ff", d_ff, minimum=1)
        self.self_attn = MultiHeadAttention(d_model, n_heads)  # causal, over the target
        self.multihead_attn = MultiHeadAttention(d_model, n_heads)  # cross: over the source
        self.linear1 = nn.Linear(d_model, d_ff)  # W_1, b_1
        self.linear2 = nn.Linear(d_ff, d_model)  # W_2, b_2
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))

    def cross(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None,
              need_weights: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The cross-attention and feed-forward sublayers, after the self-attention."""
        mask = None if memory_mask is None else memory_mask[:, None, None, :]  # (B, 1, 1, S)
        # x + Attn(Q = LN(x), K = V = memory): queries from the target, keys from the source
        read, weights = self.multihead_attn(self.norm2(x), memory, memory, mask=mask,
                                            need_weights=need_weights)
        x = x + read
        x = x + self.linear2(torch.relu(self.linear1(self.norm3(x))))  # x + FFN(LN(x))
        return x, weights

    def forward(self, x: torch.Tensor, memory: torch.Tensor,
                memory_mask: torch.Tensor | None = None, need_weights: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        read, _ = self.self_attn(self.norm1(x), need_weights=False, is_causal=True)
        return self.cross(x + read, memory, memory_mask, need_weights)  # x + SelfAttn(LN(x))

    def step(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None,
             cache: KVCache | None) -> tuple[torch.Tensor, KVCache, torch.Tensor]:
        """:meth:`forward` for new target positions ``x`` (B, T_new, d) after the ones whose
        self-attention keys and values are in ``cache``: the new ``x``, the grown cache and the
        cross-attention weights (B, H, T_new, S)."""
        read, cache = self.self_attn.forward_cached(self.norm1(x), cache)
        x, weights = self.cross(x + read, memory, memory_mask, need_weights=True)
        return x, cache, weights


class TransformerMemory(NamedTuple):
    """What the decoder reads from the encoder: the states (B, S, d) after the encoder's last
    norm, and the mask of real source words (B, S)."""

    states: torch.Tensor
    mask: torch.Tensor


class TransformerSeq2Seq(nn.Module):
    """The encoder-decoder Transformer: ``forward(source, target) -> (logits, loss)`` in
    :class:`Seq2Seq`'s conventions (teacher forcing: the decoder reads ``<bos>`` and
    ``target[:, :-1]``; ``logits`` (B, T, V), 0 in the columns :func:`trim_padding` cuts;
    padding, id 0, scores nothing). Sinusoidal
    positions on both sides; a final layer norm after each stack, as pre-norm needs."""

    def __init__(self, config: TransformerSeq2SeqConfig) -> None:
        super().__init__()
        if not isinstance(config, TransformerSeq2SeqConfig):
            raise TypeError(f"config must be a TransformerSeq2SeqConfig, got "
                            f"{type(config).__name__}")
        self.config = c = config
        self.source_embed = nn.Embedding(c.source_vocab_size, c.d_model, padding_idx=0)
        self.target_embed = nn.Embedding(c.target_vocab_size, c.d_model, padding_idx=0)
        self.encoder = nn.ModuleList(TransformerBlock(c.d_model, c.n_heads, c.d_ff)
                                     for _ in range(c.n_layers))
        self.decoder = nn.ModuleList(DecoderBlock(c.d_model, c.n_heads, c.d_ff)
                                     for _ in range(c.n_layers))
        self.encoder_norm, self.decoder_norm = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.target_vocab_size)

    def embed(self, table: nn.Embedding, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Word embeddings plus the sinusoidal positions ``start, start + 1, ...``: (B, T, d)."""
        h = table(ids)
        positions = sinusoidal_positions(start + ids.shape[1], self.config.d_model)
        return h + positions[start:].to(h.device, h.dtype)

    def encode(self, source: torch.Tensor) -> TransformerMemory:
        """The encoder's states for ``source`` (B, S), 0-padded."""
        check_tensor("source", source, ndim=2, dtype_kind="int")
        mask = source != 0  # (B, S) real words
        if bool((~mask).all(dim=1).any()):
            raise ValueError("every source sentence needs at least one word (id 0 is padding)")
        h = self.embed(self.source_embed, source)
        for block in self.encoder:  # every source word sees every other; padding is hidden
            h, _ = block(h, mask=mask[:, None, None, :])
        return TransformerMemory(self.encoder_norm(h), mask)

    def decode(self, previous: torch.Tensor, memory: TransformerMemory, *,
               need_weights: bool = False) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """Logits (B, T, V) for the words that follow each prefix of ``previous`` (B, T), all
        positions at once, and each decoder block's cross-attention (B, H, T, S) if asked."""
        h, weights = self.embed(self.target_embed, previous), []
        for block in self.decoder:
            h, w = block(h, memory.states, memory.mask, need_weights=need_weights)
            weights.append(w)
        return self.head(self.decoder_norm(h)), weights

    def forward(self, source: torch.Tensor, target: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if target is None:
            raise ValueError("forward needs the target (teacher forcing); to translate, use "
                             "greedy_decode")
        source, target, width = trim_padding(source, target)  # as Seq2Seq does
        previous = torch.cat([torch.full_like(target[:, :1], self.config.bos_id),
                              target[:, :-1]], dim=1)  # teacher forcing: the true words
        logits, _ = self.decode(previous, self.encode(source))
        loss = F.cross_entropy(logits.float().transpose(1, 2), target, ignore_index=0)
        return F.pad(logits, (0, 0, 0, width - target.shape[1])), loss  # the cut columns: 0

    @torch.no_grad()
    def cross_attention(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Every decoder block's cross-attention weights when the decoder reads ``<bos>`` and
        ``target[:, :-1]``, as in :meth:`forward`: (L, B, H, T, S)."""
        previous = torch.cat([torch.full_like(target[:, :1], self.config.bos_id),
                              target[:, :-1]], dim=1)
        with evaluating(self):
            _, weights = self.decode(previous, self.encode(source), need_weights=True)
        return torch.stack(weights)

    @torch.no_grad()
    def greedy(self, source: torch.Tensor, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy decoding one word at a time, each self-attention layer keeping its keys and
        values: words (B, max_len), 0 after ``<eos>``, and the last block's cross-attention
        averaged over its heads (B, max_len, S), as :func:`greedy_decode` returns them."""
        check_int("max_len", max_len, minimum=1)
        with evaluating(self):
            memory = self.encode(source)
            word = torch.full((source.shape[0], 1), self.config.bos_id, device=source.device)
            done = torch.zeros(source.shape[0], dtype=torch.bool, device=source.device)
            caches, words, maps = [None] * len(self.decoder), [], []
            for t in range(max_len):
                h = self.embed(self.target_embed, word, start=t)  # (B, 1, d): position t
                for i, block in enumerate(self.decoder):
                    h, caches[i], weights = block.step(h, memory.states, memory.mask, caches[i])
                word = self.head(self.decoder_norm(h)).argmax(dim=-1)  # (B, 1)
                words.append(word[:, 0].masked_fill(done, 0))
                maps.append(weights[:, :, 0].mean(dim=1))  # (B, S), averaged over heads
                done |= word[:, 0] == self.config.eos_id
        return torch.stack(words, dim=1), torch.stack(maps, dim=1)


def copy_decoder_block_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy weights between :class:`DecoderBlock` and ``torch.nn.TransformerDecoderLayer``."""
    copy_layer_weights(source, target, ours=DecoderBlock, theirs=nn.TransformerDecoderLayer,
                       attentions=("self_attn", "multihead_attn"),
                       parts=("linear1", "linear2", "norm1", "norm2", "norm3"))
