"""Exercise 1: backpropagate through the chunked forward pass of the makemore MLP (In [27]) by hand.

`backward_chain` reads the forward pass backwards, one forward line at a time (quoted above each block), and
returns d loss / d every intermediate and every parameter, named 'd' + the forward name. A variable used twice
in the forward starts its gradient with one path and gathers the other with `+=`.
"""

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from manual._common import BN_EPS, batch_sum, check_model, intermediates
from manual.embedding import scatter_rows

# The intermediates the chain reads (the others' gradients need only these and the parameters).
USED = (
    "emb", "embcat", "hprebn", "bndiff", "bndiff2", "bnvar", "bnvar_inv", "bnraw", "h", "logits",
    "counts", "counts_sum", "counts_sum_inv", "probs", "logprobs",
)


def backward_chain(
    fwd: Mapping[str, NDArray], params: Mapping[str, NDArray], Xb: NDArray, Yb: NDArray
) -> dict[str, NDArray]:
    """d loss / d every intermediate of the chunked forward (except loss) and every parameter, step by step.

    fwd maps the forward names to arrays; the chain reads those in USED ('bnstd_inv' may stand for
    'bnvar_inv') and ignores the rest. params holds C, W1, b1, W2, b2, bngain, bnbias; all share one dtype,
    which the gradients keep. Local derivatives used:
    d log p = 1/p; d x**-1 = -x**-2; d exp x = exp x; d tanh = 1 - tanh**2; d (v + eps)**-0.5 =
    -0.5 (v + eps)**-1.5; d x**2 = 2x; a product, sum or broadcast sends the gradient to each input,
    summed back over any axis the forward broadcast along; max sends it to the argmax (ties: first index).
    """
    Xb, Yb = np.asarray(Xb), np.asarray(Yb)
    dims = check_model(params, Xb, Yb, "backward_chain")
    f = intermediates(fwd, USED, dims, params["C"].dtype, "backward_chain")
    n, vocab_size = dims.n, dims.vocab_size
    C, W1, W2, bngain = params["C"], params["W1"], params["W2"], params["bngain"]
    emb, embcat, hprebn, bndiff, bndiff2 = f["emb"], f["embcat"], f["hprebn"], f["bndiff"], f["bndiff2"]
    bnvar, bnvar_inv, bnraw, h, logits = f["bnvar"], f["bnvar_inv"], f["bnraw"], f["h"], f["logits"]
    counts, counts_sum, counts_sum_inv, probs = f["counts"], f["counts_sum"], f["counts_sum_inv"], f["probs"]

    # loss = -logprobs[range(n), Yb].mean()
    dlogprobs = np.zeros_like(f["logprobs"])  # (n, vocab)
    dlogprobs[np.arange(n), Yb] = -1 / n
    # logprobs = log(probs)
    dprobs = probs**-1 * dlogprobs  # (n, vocab)
    # probs = counts * counts_sum_inv
    dcounts = counts_sum_inv * dprobs  # (n, vocab); first of counts' two uses
    dcounts_sum_inv = (counts * dprobs).sum(1, keepdims=True)  # (n, 1); undo the broadcast over vocab
    # counts_sum_inv = counts_sum**-1
    dcounts_sum = -(counts_sum**-2) * dcounts_sum_inv  # (n, 1)
    # counts_sum = counts.sum(1, keepdims=True)
    dcounts += dcounts_sum  # (n, vocab); the sum hands its gradient to every summand
    # counts = exp(norm_logits)
    dnorm_logits = counts * dcounts  # (n, vocab)
    # norm_logits = logits - logit_maxes
    dlogits = dnorm_logits.copy()  # (n, vocab); first of logits' two uses
    dlogit_maxes = -dnorm_logits.sum(1, keepdims=True)  # (n, 1); undo the broadcast over vocab
    # logit_maxes = logits.max(1, keepdims=True)
    # one_hot(argmax) as a comparison: the (n, vocab) rows of an identity without building a (vocab, vocab) one
    dlogits += (logits.argmax(1)[:, None] == np.arange(vocab_size)) * dlogit_maxes  # (n, vocab)
    # logits = h @ W2 + b2
    dh = dlogits @ W2.T  # (n, n_hidden)
    dW2 = h.T @ dlogits  # (n_hidden, vocab)
    db2 = batch_sum(dlogits)  # (vocab,); undo the broadcast over the batch
    # h = tanh(hpreact)
    dhpreact = (1.0 - h**2) * dh  # (n, n_hidden)
    # hpreact = bngain * bnraw + bnbias
    dbngain = batch_sum(bnraw * dhpreact, keepdims=True)  # (1, n_hidden)
    dbnraw = bngain * dhpreact  # (n, n_hidden)
    dbnbias = batch_sum(dhpreact, keepdims=True)  # (1, n_hidden)
    # bnraw = bndiff * bnvar_inv
    dbndiff = bnvar_inv * dbnraw  # (n, n_hidden); first of bndiff's two uses
    dbnvar_inv = batch_sum(bndiff * dbnraw, keepdims=True)  # (1, n_hidden)
    # bnvar_inv = (bnvar + eps)**-0.5
    dbnvar = -0.5 * (bnvar + BN_EPS) ** -1.5 * dbnvar_inv  # (1, n_hidden)
    # bnvar = 1/(n-1) * bndiff2.sum(0, keepdims=True), Bessel's correction
    dbndiff2 = 1 / (n - 1) * np.ones_like(bndiff2) * dbnvar  # (n, n_hidden)
    # bndiff2 = bndiff**2
    dbndiff += 2.0 * bndiff * dbndiff2  # (n, n_hidden)
    # bndiff = hprebn - bnmeani
    dhprebn = dbndiff.copy()  # (n, n_hidden); first of hprebn's two uses
    dbnmeani = -batch_sum(dbndiff, keepdims=True)  # (1, n_hidden)
    # bnmeani = 1/n * hprebn.sum(0, keepdims=True)
    dhprebn += 1 / n * np.ones_like(hprebn) * dbnmeani  # (n, n_hidden)
    # hprebn = embcat @ W1 + b1
    dembcat = dhprebn @ W1.T  # (n, block_size*n_embd)
    dW1 = embcat.T @ dhprebn  # (block_size*n_embd, n_hidden)
    db1 = batch_sum(dhprebn)  # (n_hidden,)
    # embcat = emb.reshape(n, -1)
    demb = dembcat.reshape(emb.shape)  # (n, block_size, n_embd)
    # emb = C[Xb]
    dC = scatter_rows(demb, Xb, C.shape[0])  # (vocab, n_embd); dC[v] sums demb where Xb == v

    return {
        "dlogprobs": dlogprobs, "dprobs": dprobs, "dcounts_sum_inv": dcounts_sum_inv,
        "dcounts_sum": dcounts_sum, "dcounts": dcounts, "dnorm_logits": dnorm_logits,
        "dlogit_maxes": dlogit_maxes, "dlogits": dlogits, "dh": dh, "dW2": dW2, "db2": db2,
        "dhpreact": dhpreact, "dbngain": dbngain, "dbnraw": dbnraw, "dbnbias": dbnbias,
        "dbnvar_inv": dbnvar_inv, "dbnvar": dbnvar, "dbndiff2": dbndiff2, "dbndiff": dbndiff,
        "dhprebn": dhprebn, "dbnmeani": dbnmeani, "dembcat": dembcat, "dW1": dW1, "db1": db1,
        "demb": demb, "dC": dC,
    }
