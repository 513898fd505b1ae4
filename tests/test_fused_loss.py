"""The fused output layer + loss gives the same loss and gradients as linear -> cross_entropy."""

import pytest
import torch
import torch.nn.functional as F

from engine.fused_loss import linear_cross_entropy


def reference(h, weight, bias, target):
    return F.cross_entropy(h @ weight.t() + bias, target)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.bfloat16, 3e-2)])
def test_loss_and_gradients_match_the_plain_layers(dtype, tol):
    torch.manual_seed(0)
    n, hidden, vocab = 64, 16, 50
    inputs = [torch.randn(n, hidden), torch.randn(vocab, hidden) * 0.3, torch.randn(vocab) * 0.1]
    target = torch.randint(vocab, (n,))
    fused = [t.clone().requires_grad_() for t in inputs]
    plain = [t.clone().requires_grad_() for t in inputs]

    loss = linear_cross_entropy(*fused, target, dtype)
    expected = reference(*plain, target)
    (loss * 2).backward()  # a non-unit upstream gradient must scale every gradient
    (expected * 2).backward()

    assert loss.item() == pytest.approx(expected.item(), rel=tol)
    for got, want in zip(fused, plain):
        assert got.grad.dtype == torch.float32
        torch.testing.assert_close(got.grad, want.grad, rtol=tol, atol=tol * want.grad.abs().max().item())


def test_tied_weights_collect_both_gradients():
    torch.manual_seed(1)
    embedding = torch.randn(10, 4, requires_grad=True)
    bias = torch.zeros(10)
    ids = torch.tensor([1, 2, 3])
    target = torch.tensor([2, 3, 4])
    linear_cross_entropy(embedding[ids], embedding, bias, target).backward()
    fused_grad = embedding.grad.clone()
    embedding.grad = None
    reference(embedding[ids], embedding, bias, target).backward()
    torch.testing.assert_close(fused_grad, embedding.grad)
