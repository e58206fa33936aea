"""The LSTM step written out (notebook 06's exercise), shared by notebook 06's gradient-flow probe and the
Phased LSTM of notebook 08. Gate order follows PyTorch (input i, forget f, cell candidate g, output o), so
weights copy across from nn.LSTM / nn.LSTMCell.
"""
from typing import Tuple

import torch


def lstm_cell_step(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
                   bias_ih: torch.Tensor, bias_hh: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step. x: (B, d), h, c: (B, n); weight_ih: (4n, d), weight_hh: (4n, n), biases (4n,).

    i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh); c' = f*c + i*g; h' = o*tanh(c') -> (h', c')
    """
    gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def lstm_param_count(d, n, bias_vectors=1):
    """Parameters of one LSTM layer: 4(dn + n^2 + n) with one bias vector; PyTorch keeps two (b_ih, b_hh)."""
    return 4 * (d * n + n * n + bias_vectors * n)
