# Accuracy of the int8 path on the real model, simulated in PyTorch: each selected nn.Linear gets its weight
# quantized symmetric per output feature (int8, scale max|W_n|/127) and its input quantized asymmetric per token
# (uint8, scale (max(0,max x) − min(0,min x))/255, zero point), i.e. PackedLinear(.int8)'s arithmetic (its int32
# sums are exact, so only the quantization differs from fp32). Attention, LayerNorm, GELU stay fp32.
# Prints min / mean embedding cosine vs plain fp32 for layer subsets (mixed int8/fp32 schemes), for group-wise
# variants (separate scales per group of K, which the current kernel does NOT implement) and for the LayerNorm-guided
# smoothing that Sift does (sift_int8.h: s_k = √(m_k / max_n|W[n][k]|), m = |γ| + |β| of the LayerNorm feeding QKV
# and the intermediate layer; Q, K and V each get their own s, as one shared s measured worse), over the bi-encoder
# fixture texts (Tests/Fixtures/models: includes 2-token texts) and the first 200 benchmark passages.
# Run: HF_HUB_OFFLINE=1 /work/venv/bin/python Benchmarks/gemm/int8_parity.py   (about 3 minutes on 2 cores)
import json
import torch
from sentence_transformers import SentenceTransformer

m = SentenceTransformer('/work/main/Models/all-MiniLM-L6-v2', device='cpu')
doc = json.load(open('/work/main/Tests/Fixtures/models/minilm_embeddings.json'))


def fixture_text(t):
    if t.get('text') is not None:
        return t['text']
    unit, n = t['repeat']['unit'], t['repeat']['length']
    return ''.join(unit[i % len(unit)] for i in range(n))


sets = {
    'fixtures': [fixture_text(t) for t in doc['texts']],
    'passages': [json.loads(line)['text'] for line in open('/work/main/Benchmarks/results/passages.jsonl')][:200],
}
with torch.no_grad():
    refs = {k: m.encode(v, convert_to_tensor=True, normalize_embeddings=True, batch_size=64) for k, v in sets.items()}
W0 = {n: mod.weight.data.clone() for n, mod in m.named_modules() if isinstance(mod, torch.nn.Linear)}


def quantize_weight(w, group=None):
    g = group or w.shape[1]
    wg = w.reshape(w.shape[0], -1, g)
    s = wg.abs().amax(-1, keepdim=True) / 127
    return (torch.round(wg / s).clamp(-127, 127) * s).reshape(w.shape)


def quantize_input(x, group=None):
    g = group or x.shape[-1]
    xg = x.reshape(*x.shape[:-1], -1, g)
    lo, hi = xg.amin(-1, keepdim=True).clamp(max=0), xg.amax(-1, keepdim=True).clamp(min=0)
    s = (hi - lo) / 255
    s = torch.where(s == 0, torch.ones_like(s), s)
    z = torch.round(-lo / s)
    return (((torch.round(xg / s) + z).clamp(0, 255) - z) * s).reshape(x.shape)


hooks = []


bert = m[0].auto_model


def feeding_layer_norm(n):
    # The LayerNorm whose output is linear n's input (post-LN BERT), or None.
    parts = n.split('.')
    if 'layer' not in parts:
        return None
    i = int(parts[parts.index('layer') + 1])
    if 'attention.self' in n:
        return bert.embeddings.LayerNorm if i == 0 else bert.encoder.layer[i - 1].output.LayerNorm
    if 'intermediate' in n:
        return bert.encoder.layer[i].attention.output.LayerNorm
    return None


def smoothing(n, smooth):
    ln = feeding_layer_norm(n) if smooth else None
    if ln is None:
        return torch.ones(W0[n].shape[1])
    magnitude = ln.weight.data.abs() + ln.bias.data.abs()
    return (magnitude / W0[n].abs().amax(0).clamp(min=1e-30)).sqrt()


def cosines(select, group=None, smooth=False):
    for h in hooks:
        h.remove()
    hooks.clear()
    for n, mod in m.named_modules():
        if isinstance(mod, torch.nn.Linear):
            s = smoothing(n, smooth)
            mod.weight.data = quantize_weight(W0[n] * s, group) if select(n) else W0[n].clone()
            if select(n):
                hooks.append(mod.register_forward_pre_hook(lambda mod, inp, s=s: (quantize_input(inp[0] / s, group),)))
    out = []
    with torch.no_grad():
        for k, texts in sets.items():
            cos = (refs[k] * m.encode(texts, convert_to_tensor=True, normalize_embeddings=True, batch_size=64)).sum(-1)
            out.append('%s min %.5f mean %.5f' % (k, cos.min().item(), cos.mean().item()))
    return '  '.join(out)


ffn_out = lambda n: n.endswith('output.dense') and 'attention' not in n
attn_out = lambda n: 'attention.output' in n
qkv = lambda n: 'attention.self' in n
intermediate = lambda n: 'intermediate' in n
print('%-30s %s' % ('all int8, smoothed (Sift)', cosines(lambda n: True, smooth=True)), flush=True)
for label, select in [('all int8', lambda n: True),
                      ('FFN output fp32', lambda n: not ffn_out(n)),
                      ('attention output fp32', lambda n: not attn_out(n)),
                      ('FFN + attention output fp32', lambda n: not ffn_out(n) and not attn_out(n)),
                      ('QKV fp32', lambda n: not qkv(n)),
                      ('intermediate fp32', lambda n: not intermediate(n))]:
    print('%-30s %s' % (label, cosines(select)), flush=True)
for group in [128, 64]:
    print('%-30s %s' % ('all int8, groups of %d' % group, cosines(lambda n: True, group)), flush=True)
