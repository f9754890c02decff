"""Task heads on top of a shared encoder, built by kind and looked up by task name."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ClassificationHead(nn.Module):
    """Sentence(-pair) classification from the first token."""

    def __init__(self, hidden: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout, self.out = nn.Dropout(dropout), nn.Linear(hidden, num_labels)

    def forward(self, hidden_states, labels=None, **_):
        logits = self.out(self.dropout(hidden_states[:, 0]))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return loss, logits


class MultipleChoiceHead(nn.Module):
    """Scores each (context, choice) sequence; the encoder saw choices flattened into the batch."""

    def __init__(self, hidden: int, num_choices: int, dropout: float = 0.1):
        super().__init__()
        self.num_choices = num_choices
        self.dropout, self.out = nn.Dropout(dropout), nn.Linear(hidden, 1)

    def forward(self, hidden_states, labels=None, **_):
        logits = self.out(self.dropout(hidden_states[:, 0])).view(-1, self.num_choices)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return loss, logits


class SpanQAHead(nn.Module):
    """Start/end logits per token for extractive QA."""

    def __init__(self, hidden: int, num_labels: int = 2, dropout: float = 0.0):
        super().__init__()
        self.out = nn.Linear(hidden, 2)

    def forward(self, hidden_states, start_positions=None, end_positions=None, **_):
        start, end = self.out(hidden_states).unbind(-1)
        loss = None
        if start_positions is not None:
            loss = (F.cross_entropy(start, start_positions) + F.cross_entropy(end, end_positions)) / 2
        return loss, torch.stack([start, end], dim=-1)


class TaggingHead(nn.Module):
    """Per-token labels; positions labelled -100 (non-first sub-tokens, specials) are ignored."""

    def __init__(self, hidden: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout, self.out = nn.Dropout(dropout), nn.Linear(hidden, num_labels)

    def forward(self, hidden_states, labels=None, **_):
        logits = self.out(self.dropout(hidden_states))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return loss, logits


class MLMHead(nn.Module):
    """Masked-LM head whose decoder is tied to the encoder's input embeddings.

    Tying avoids a second vocab x hidden matrix (96M parameters for a 250k vocabulary).
    """

    def __init__(self, hidden: int, embeddings: nn.Embedding):
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden))
        self.embeddings = [embeddings]  # a list so the tied matrix is not registered twice
        self.bias = nn.Parameter(torch.zeros(embeddings.num_embeddings))

    def forward(self, hidden_states, labels=None, **_):
        logits = F.linear(self.transform(hidden_states), self.embeddings[0].weight, self.bias)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return loss, logits


HEAD_KINDS = {
    "classification": ClassificationHead,
    "multiple_choice": MultipleChoiceHead,
    "span_qa": SpanQAHead,
    "tagging": TaggingHead,
}
