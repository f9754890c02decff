"""Row-sparse AdamW equals dense AdamW: rows used irregularly, a changing lr, weight decay, clipping."""

import copy

import pytest
import torch
from accelerate import Accelerator
from transformers import get_linear_schedule_with_warmup

from xstilts.training.sparse_adamw import RowSparseAdamW, clip_grad_norm

VOCAB, DIM, STEPS = 60, 8, 80


class Toy(torch.nn.Module):
    def __init__(self, sparse: bool):
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(VOCAB, DIM, sparse=sparse)
        self.out = torch.nn.Linear(DIM, 3)

    def forward(self, ids, coef):
        # linear in the weights, so gradients do not depend on them: the runs compare the optimizers'
        # arithmetic alone (through a loss coupling the weights, Adam amplifies float rounding step by step)
        return (self.emb(ids) * coef).sum() + (self.out.weight * coef[-3:, :]).sum()


def batches():
    """Rows used irregularly: a few every step, some in bursts with long gaps, rows 50+ never."""
    rng = torch.Generator().manual_seed(1)
    for step in range(STEPS):
        frequent = torch.randint(0, 5, (6,), generator=rng)
        rare = torch.randint(5, 50, (3 if step % 7 else 12,), generator=rng)
        ids = torch.cat([frequent, rare])
        yield ids, torch.randn(len(ids), DIM, generator=rng)


def train(sparse: bool, catch_up_at=(), stop=STEPS, model=None, optimizer=None, scheduler=None):
    model = model or Toy(sparse)
    groups = [{"params": [model.emb.weight], "weight_decay": 0.1}, {"params": list(model.out.parameters()), "weight_decay": 0.0}]
    if optimizer is None:
        optimizer = RowSparseAdamW(groups, embeddings=[model.emb], lr=0.05) if sparse else torch.optim.AdamW(groups, lr=0.05)
        scheduler = get_linear_schedule_with_warmup(optimizer, 10, STEPS)
    accelerator = Accelerator(cpu=True)
    for step, (ids, coef) in enumerate(batches()):
        if step < optimizer.state.get(model.emb.weight, {}).get("step", 0) or step >= stop:
            continue
        model(ids, coef).backward()
        clip_grad_norm(accelerator, model.parameters(), 0.05)  # small: clipping is active on most steps
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        if sparse and step in catch_up_at:
            optimizer.catch_up()
    if sparse:
        optimizer.catch_up()
    return model, optimizer, scheduler


def assert_same_weights(a: Toy, b: Toy):
    assert torch.allclose(a.emb.weight, b.emb.weight, rtol=1e-5, atol=1e-6)
    assert torch.allclose(a.out.weight, b.out.weight, rtol=1e-5, atol=1e-6)


def test_sparse_equals_dense_over_many_steps():
    dense, dense_opt, _ = train(sparse=False)
    sparse, sparse_opt, _ = train(sparse=True)
    start = Toy(False)
    assert (dense.emb.weight[50:] != start.emb.weight[50:]).all()  # unused rows moved (decay) in both
    assert (dense.emb.weight[5:50] - start.emb.weight[5:50]).abs().max() > 0.05
    assert_same_weights(dense, sparse)
    dense_state, sparse_state = dense_opt.state[dense.emb.weight], sparse_opt.state[sparse.emb.weight]
    assert torch.allclose(dense_state["exp_avg"], sparse_state["exp_avg"], rtol=1e-5, atol=1e-9)
    assert torch.allclose(dense_state["exp_avg_sq"], sparse_state["exp_avg_sq"], rtol=1e-5, atol=1e-12)


def test_catch_up_mid_run_and_resume_from_state_dict():
    dense, _, _ = train(sparse=False)
    caught, _, _ = train(sparse=True, catch_up_at=(3, 30, 31, 64))
    assert_same_weights(dense, caught)
    # a run stopped at step 40, its optimizer state saved and loaded into a fresh one, resumed
    half, optimizer, scheduler = train(sparse=True, stop=40)
    model = copy.deepcopy(half)
    groups = [{"params": [model.emb.weight], "weight_decay": 0.1}, {"params": list(model.out.parameters()), "weight_decay": 0.0}]
    resumed = RowSparseAdamW(groups, embeddings=[model.emb], lr=0.05)
    schedule = get_linear_schedule_with_warmup(resumed, 10, STEPS)  # the loop's order: scheduler, then states
    resumed.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    schedule.load_state_dict(scheduler.state_dict())
    finished, _, _ = train(sparse=True, model=model, optimizer=resumed, scheduler=schedule)
    assert_same_weights(dense, finished)


def test_clip_grad_norm_matches_torch_on_sparse_gradients():
    dense, sparse = Toy(False), Toy(True)
    ids = torch.tensor([1, 2, 2, 7])
    coef = torch.randn(4, DIM)
    dense(ids, coef).backward()
    sparse(ids, coef).backward()
    expected = torch.nn.utils.clip_grad_norm_(dense.parameters(), 0.01)
    total = clip_grad_norm(Accelerator(cpu=True), sparse.parameters(), 0.01)
    assert total == pytest.approx(float(expected), rel=1e-6)
    assert torch.allclose(sparse.emb.weight.grad.to_dense(), dense.emb.weight.grad, atol=1e-9)


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    from xstilts.demo import LANGS, build_tiny_model, corpus_texts

    return build_tiny_model(tmp_path_factory.mktemp("tiny"), corpus_texts(LANGS), hidden=32, layers=1, vocab_size=800)


def loop_run(model_dir, tmp_path, **options):
    """Five tagging steps of the real loop (dropout off: the two runs must see the same network)."""
    from datasets import Dataset

    from xstilts.config import TrainSettings
    from xstilts.modeling.model import MultiTaskModel, load_encoder
    from xstilts.training import loop

    encoder, tokenizer = load_encoder(str(model_dir))
    torch.manual_seed(0)
    model = MultiTaskModel(encoder)
    model.add_head("tag", "tagging", 5)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    rng = torch.Generator().manual_seed(3)
    ids = [torch.randint(5, 300, (int(n),), generator=rng).tolist() for n in torch.randint(4, 12, (40,), generator=rng)]
    features = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids],
                                  "labels": [[j % 5 for j in i] for i in ids]})
    settings = TrainSettings(learning_rate=1e-3, batch_size=8, precision="no", max_length=64, **options)
    run = loop.TrainRun([loop.TrainTask("tag", "tag", features, 8)], ["tag"] * 5, settings, tmp_path, 0, tokenizer.pad_token_id)
    state = loop.train(model, run, loop.make_accelerator(settings, "cpu"))
    return state, encoder.get_input_embeddings().weight.detach().clone(), encoder


def test_loop_with_sparse_embeddings_equals_dense_and_freezing_keeps_them(tiny_encoder, tmp_path):
    dense_state, dense, _ = loop_run(tiny_encoder, tmp_path / "dense")
    sparse_state, sparse, encoder = loop_run(tiny_encoder, tmp_path / "sparse", embedding_optimizer="sparse")
    assert encoder.get_input_embeddings().sparse
    assert sparse_state["precision"] == "no"
    assert torch.allclose(dense, sparse, atol=2e-5)
    assert dense_state["losses"] == pytest.approx(sparse_state["losses"], rel=1e-4)
    _, frozen, _ = loop_run(tiny_encoder, tmp_path / "frozen", freeze_embeddings=True)
    from xstilts.modeling.model import load_encoder

    original = load_encoder(str(tiny_encoder))[0].get_input_embeddings().weight
    assert torch.equal(frozen, original) and not torch.allclose(dense, original)
