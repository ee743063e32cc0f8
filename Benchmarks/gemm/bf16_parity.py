# Accuracy of the bf16 path on the real model, simulated in PyTorch: every nn.Linear gets its weight and its input
# rounded to bf16 (round to nearest even, as vcvtne2ps2bf16) and computes in fp32, exactly PackedLinear(.bfloat16)'s
# arithmetic; attention, LayerNorm, GELU stay fp32. Prints the embedding cosine vs plain fp32.
# Run: HF_HUB_OFFLINE=1 /work/venv/bin/python Benchmarks/gemm/bf16_parity.py
import torch, glob, re
from sentence_transformers import SentenceTransformer, CrossEncoder
torch.manual_seed(0)
m = SentenceTransformer('/work/main/Models/all-MiniLM-L6-v2', device='cpu')
files = sorted(glob.glob('/usr/share/doc/python3.11/html/library/*.html'))[:40]
texts = []
for f in files:
    t = re.sub(r'<[^>]+>', ' ', open(f, errors='ignore').read()); t = re.sub(r'\s+', ' ', t)
    for i in range(0, min(len(t), 6000), 1000): texts.append(t[i:i+1000])
texts = texts[:128]
with torch.no_grad():
    ref = m.encode(texts, convert_to_tensor=True, normalize_embeddings=True)
    def rb(x): return x.to(torch.bfloat16).to(torch.float32)
    for mod in m.modules():
        if isinstance(mod, torch.nn.Linear):
            mod.weight.data = rb(mod.weight.data)
            mod.register_forward_pre_hook(lambda mod, inp: (rb(inp[0]),))
    got = m.encode(texts, convert_to_tensor=True, normalize_embeddings=True)
cos = (ref * got).sum(-1)
print(len(texts), 'passages; cosine bf16-linear vs fp32: min %.6f mean %.6f' % (cos.min().item(), cos.mean().item()))
