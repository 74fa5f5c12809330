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
  - ``"dot"`` and ``"general"``: the scores ``s_{t-1}^T h_j`` and ``s_{t-1}^T W_a h_j`` (Luong,
    Pham and Manning, 2015).

  Padded source positions get score ``-inf``, so no weight. Training is *teacher forcing*:
  ``forward(source, target)`` feeds the true previous word at every step and returns the
  cross-entropy of every prediction (package convention ``(out, loss)``). At test time
  :func:`greedy_decode` feeds the model its own previous prediction instead.

Word id 0 is padding in both languages; the decoder starts from ``bos_id`` (1) and a sentence
ends with ``eos_id`` (2), as :mod:`rnn2transformer.toy_language` lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_int, check_tensor
from .shared import evaluating

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


class Seq2Seq(nn.Module):
    """Encoder, attention (or none) and decoder. ``forward(source, target) -> (logits, loss)``.

    ``target`` (B, T) holds the translation followed by ``<eos>`` and 0-padding; the decoder
    reads ``<bos>`` and then ``target[:, :-1]`` (teacher forcing). ``logits`` is (B, T, V).
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
        check_tensor("target", target, ndim=2, dtype_kind="int")
        if target.shape[0] != source.shape[0]:
            raise ValueError(f"source and target must hold the same number of sentences, got "
                             f"{source.shape[0]} and {target.shape[0]}")
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
        return logits, loss


@torch.no_grad()
def greedy_decode(model: Seq2Seq, source: torch.Tensor, max_len: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Translate ``source`` (B, S) by feeding the model its own most likely word at each step.

    Returns the words (B, max_len), 0 after each sentence's ``<eos>``, and the attention
    weights (B, max_len, S) (zeros for ``attention="none"``).
    """
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"model must be a Seq2Seq, got {type(model).__name__}")
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


def exact_match(model: Seq2Seq, source: torch.Tensor, target: torch.Tensor,
                batch_size: int = 512) -> torch.Tensor:
    """For each sentence, whether greedy decoding reproduces ``target`` exactly (up to and
    including ``<eos>``): a bool tensor (N,)."""
    check_tensor("target", target, ndim=2, dtype_kind="int")
    device = next(model.parameters()).device
    hits = []
    for i in range(0, len(source), batch_size):
        src, tgt = source[i : i + batch_size].to(device), target[i : i + batch_size].to(device)
        words, _ = greedy_decode(model, src, tgt.shape[1])
        hits.append(((words == tgt) | (tgt == 0)).all(dim=1).cpu())
    return torch.cat(hits)
