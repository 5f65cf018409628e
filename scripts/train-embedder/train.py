#!/usr/bin/python3
"""Trains weights/wordnet-mini: a small BERT sentence embedder, from scratch, on Princeton WordNet 3.0
(Debian's wordnet-base), with a contrastive objective (in-batch negatives). CPU, fixed seeds,
resumable. Run by hand, never by CI; the weights it writes are committed.

    apt-get install -y python3-torch python3-numpy wordnet-base libopenblas0-openmp
    nice -n 10 /usr/bin/python3 scripts/train-embedder/train.py [--work tmp/train-embedder] [--steps N] [--smoke]

Stages (each skipped when its output exists in --work, so a rerun resumes):
  1. data: WordNet synsets (lemmas, gloss, examples, hypernyms); a seeded held-out set of synsets
     that no training pair touches (bench/data/wordnet-heldout.json, read by bench/embedder-quality.ts).
  2. vocab: bert-base-uncased's WordPiece vocabulary (weights/neobert-mini/vocab.txt) pruned to the
     pieces the training text uses (ties in frequency broken by the original id), every single
     character piece kept.
  3. train: BertModel (post-LN, GELU, absolute positions) + mean pooling + L2 normalisation;
     InfoNCE (scale 20) over (anchor, positive, hard negative) triples: word pairs, sentence pairs
     and WordNet paraphrases, negatives sharing words but not meaning (augment.py); two cosine
     learning-rate cycles, the second weighted to sentences (--steps, --phase2-steps). Checkpoint every --ckpt-minutes; the batch order
     is a function of (seed, epoch), so a resumed run sees the same batches.
  4. export: model.safetensors (F16), config.json, vocab.txt, tokenizer_config.json, the
     sentence-transformers files; test/fixtures/wordnet-mini/expected.safetensors: this file's
     PyTorch forward of the stored F16 weights (upcast to f32) on fixed texts.
"""
import argparse, json, math, os, random, re, struct, sys, time, unicodedata
from collections import Counter, defaultdict

# Debian's python3-torch calls the reference BLAS (libblas.so.3: ~0.5 GFLOP/s here); OpenBLAS from
# libopenblas0-openmp is ~40x faster. Use it for this process only, leaving the system's alternative alone.
OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-openmp'
if os.path.isdir(OPENBLAS) and OPENBLAS not in os.environ.get('LD_LIBRARY_PATH', ''):
    os.environ['LD_LIBRARY_PATH'] = OPENBLAS + ':' + os.environ.get('LD_LIBRARY_PATH', '')
    os.environ.setdefault('OMP_NUM_THREADS', '2')
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from augment import Lexicon, Negatives, Paraphraser

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
WORDNET = '/usr/share/wordnet'
SEED = 20261202
HELD_OUT = 2000

# ------------------------------------------------------------------------------------------------
# WordNet


def wordnet_licence(root=WORDNET):
    """The WordNet 3.0 licence and copyright notice, as the data files carry it (it must go with every copy)."""
    lines = []
    with open(os.path.join(root, 'data.noun'), encoding='utf-8') as f:
        for line in f:
            if not line.startswith('  '):
                break
            lines.append(re.sub(r'^\s*\d+ ?', '', line.rstrip()))
    return '\n'.join(lines).strip()


def read_wordnet(root=WORDNET):
    """Every synset of data.{noun,verb,adj,adv}: id, pos, lemmas, definition, examples, hypernyms."""
    synsets = {}
    for pos in ('noun', 'verb', 'adj', 'adv'):
        with open(os.path.join(root, 'data.' + pos), encoding='utf-8', errors='replace') as f:
            for line in f:
                if line.startswith('  '):
                    continue  # licence header
                head, _, gloss = line.partition(' | ')
                parts = head.split()
                offset, ss_type = parts[0], parts[2]
                n = int(parts[3], 16)
                words = [re.sub(r'\((a|p|ip)\)$', '', parts[4 + 2 * i]).replace('_', ' ') for i in range(n)]
                i = 4 + 2 * n
                p_cnt = int(parts[i]); i += 1
                hypernyms = []
                for _ in range(p_cnt):
                    sym, target, tpos = parts[i], parts[i + 1], parts[i + 2]
                    i += 4
                    if sym in ('@', '@i'):
                        hypernyms.append(('n' if tpos == 'n' else tpos) + target)
                gloss = gloss.strip()
                # the gloss is 'definition; "example"; "example"'
                examples = re.findall(r'"([^"]+)"', gloss)
                definition = re.sub(r'"[^"]*"', '', gloss).strip().strip(';').strip()
                definition = re.sub(r'\s*;\s*$', '', definition)
                lemmas = []
                for w in words:
                    if w.lower() not in [l.lower() for l in lemmas]:
                        lemmas.append(w)
                sid = ss_type.replace('s', 'a') + offset
                synsets[sid] = dict(id=sid, pos=pos, lemmas=lemmas, definition=definition,
                                    examples=[e.strip() for e in examples if e.strip()], hypernyms=hypernyms)
    return synsets


def lemma_text(lemmas):
    return ', '.join(lemmas)


# ------------------------------------------------------------------------------------------------
# BERT uncased tokenizer (BasicTokenizer + WordPiece), as transformers' BertTokenizer(do_lower_case)


def _is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith('P')


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD:
            continue
        cat = unicodedata.category(ch)
        if ch in '\t\n\r' or cat == 'Zs':
            out.append(' ')
        elif cat in ('Cc', 'Cf'):
            continue
        elif _is_cjk(cp):
            out.append(' ' + ch + ' ')
        else:
            out.append(ch)
    text = ''.join(out).lower()
    text = ''.join(c for c in unicodedata.normalize('NFD', text) if unicodedata.category(c) != 'Mn')
    words = []
    for w in text.split():
        cur = ''
        for ch in w:
            if _is_punct(ch):
                if cur:
                    words.append(cur)
                words.append(ch)
                cur = ''
            else:
                cur += ch
        if cur:
            words.append(cur)
    return words


class WordPiece:
    def __init__(self, vocab):
        self.vocab = list(vocab)
        self.ids = {t: i for i, t in enumerate(self.vocab)}
        self.unk = self.ids['[UNK]']
        self.cls = self.ids['[CLS]']
        self.sep = self.ids['[SEP]']
        self.pad = self.ids['[PAD]']
        self.cache = {}

    def word(self, w):
        hit = self.cache.get(w)
        if hit is not None:
            return hit
        if len(w) > 100:
            return [self.unk]
        pieces, start = [], 0
        while start < len(w):
            end, found = len(w), None
            while start < end:
                sub = w[start:end] if start == 0 else '##' + w[start:end]
                if sub in self.ids:
                    found = self.ids[sub]
                    break
                end -= 1
            if found is None:
                pieces = [self.unk]
                break
            pieces.append(found)
            start = end
        self.cache[w] = pieces
        return pieces

    def encode(self, text, max_len=128):
        ids = [self.cls]
        for w in basic_tokenize(text):
            ids.extend(self.word(w))
        ids = ids[:max_len - 1]
        ids.append(self.sep)
        return ids


# ------------------------------------------------------------------------------------------------
# The model: transformers' BertModel (no pooler), mean pooling, Normalize


class Layer(nn.Module):
    def __init__(self, C, H, I, eps):
        super().__init__()
        self.H = H
        self.query, self.key, self.value = nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C)
        self.attn_out = nn.Linear(C, C)
        self.attn_norm = nn.LayerNorm(C, eps=eps)
        self.intermediate = nn.Linear(C, I)
        self.output = nn.Linear(I, C)
        self.out_norm = nn.LayerNorm(C, eps=eps)

    def forward(self, x, bias):  # x (B, T, C); bias (B, 1, 1, T): 0 or finfo.min on padding keys
        B, T, C = x.shape
        d = C // self.H
        split = lambda t: t.view(B, T, self.H, d).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = self.attn_norm(self.attn_out(ctx) + x)
        return self.out_norm(self.output(F.gelu(self.intermediate(x))) + x)


class Bert(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, V = cfg['hidden_size'], cfg['vocab_size']
        self.word = nn.Embedding(V, C, padding_idx=cfg['pad_token_id'])
        self.position = nn.Embedding(cfg['max_position_embeddings'], C)
        self.token_type = nn.Embedding(cfg['type_vocab_size'], C)
        self.emb_norm = nn.LayerNorm(C, eps=cfg['layer_norm_eps'])
        self.layers = nn.ModuleList(Layer(C, cfg['num_attention_heads'], cfg['intermediate_size'], cfg['layer_norm_eps'])
                                    for _ in range(cfg['num_hidden_layers']))
        for m in self.modules():  # BertPreTrainedModel._init_weights
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=cfg['initializer_range'])
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()

    def forward(self, ids, mask):
        T = ids.shape[1]
        pos = torch.arange(T, device=ids.device)[None]
        x = self.emb_norm(self.word(ids) + self.position(pos) + self.token_type(torch.zeros_like(ids)))
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        return x

    def embed(self, ids, mask):
        h = self.forward(ids, mask)
        m = mask[..., None].to(h.dtype)
        mean = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return h, mean, F.normalize(mean, p=2, dim=1, eps=1e-12)

    def hub_state(self, n_layers):
        """Parameters under transformers' BertModel names."""
        out = {
            'embeddings.word_embeddings.weight': self.word.weight,
            'embeddings.position_embeddings.weight': self.position.weight,
            'embeddings.token_type_embeddings.weight': self.token_type.weight,
            'embeddings.LayerNorm.weight': self.emb_norm.weight,
            'embeddings.LayerNorm.bias': self.emb_norm.bias,
        }
        names = dict(query='attention.self.query', key='attention.self.key', value='attention.self.value',
                     attn_out='attention.output.dense', attn_norm='attention.output.LayerNorm',
                     intermediate='intermediate.dense', output='output.dense', out_norm='output.LayerNorm')
        for i, layer in enumerate(self.layers):
            for ours, hub in names.items():
                mod = getattr(layer, ours)
                out[f'encoder.layer.{i}.{hub}.weight'] = mod.weight
                out[f'encoder.layer.{i}.{hub}.bias'] = mod.bias
        return out

    def load_hub_state(self, tensors):
        own = self.hub_state(len(self.layers))
        with torch.no_grad():
            for name, p in own.items():
                p.copy_(tensors[name])


# ------------------------------------------------------------------------------------------------
# safetensors (no package needed: an 8-byte header length, a JSON header, raw little-endian bytes)

DTYPES = {'F16': np.float16, 'F32': np.float32, 'I64': np.int64, 'I32': np.int32}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        dtype = {np.dtype(v): k for k, v in DTYPES.items()}[arr.dtype]
        b = arr.astype(arr.dtype.newbyteorder('<')).tobytes()
        header[name] = dict(dtype=dtype, shape=list(arr.shape), data_offsets=[offset, offset + len(b)])
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        out[name] = np.frombuffer(data[a:b], dtype=DTYPES[info['dtype']]).reshape(info['shape'])
    return out


# ------------------------------------------------------------------------------------------------
# Stages


def write_json(path, obj):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write('\n')
    os.replace(tmp, path)


def stage_data(work):
    path = os.path.join(work, 'data.json')
    if os.path.exists(path):
        return json.load(open(path))
    synsets = read_wordnet()
    ids = sorted(synsets)
    rng = random.Random(SEED)
    eligible = [s for s in ids if synsets[s]['definition'] and synsets[s]['lemmas']]
    rng.shuffle(eligible)
    # held out: synsets whose lemma text is unique in the whole of WordNet, so gloss -> lemma
    # retrieval has one right answer; nothing from them (gloss, examples, their lemma pairing) is trained on.
    counts = Counter(lemma_text(synsets[s]['lemmas']).lower() for s in ids)
    held = [s for s in eligible if counts[lemma_text(synsets[s]['lemmas']).lower()] == 1][:HELD_OUT]
    held_set = set(held)
    train = [s for s in ids if s not in held_set]
    data = dict(synsets=synsets, held_out=sorted(held), train=train)
    write_json(path, data)
    # the evaluation set for the bench (also the triplets, below)
    heldout = [dict(id=s, pos=synsets[s]['pos'], lemmas=synsets[s]['lemmas'], definition=synsets[s]['definition'],
                    examples=synsets[s]['examples']) for s in sorted(held)]
    os.makedirs(os.path.join(ROOT, 'bench', 'data'), exist_ok=True)
    write_json(os.path.join(ROOT, 'bench', 'data', 'wordnet-heldout.json'), dict(
        source='Princeton WordNet 3.0 (Debian wordnet-base)', licence=wordnet_licence(),
        seed=SEED, note='synsets held out of training by scripts/train-embedder/train.py; '
                        'query = definition, answer = lemmas joined with ", "',
        synsets=heldout))
    return data


def train_texts(data):
    for s in data['train']:
        ss = data['synsets'][s]
        yield lemma_text(ss['lemmas'])
        yield from ss['lemmas']
        if ss['definition']:
            yield ss['definition']
        yield from ss['examples']


def stage_vocab(work, data, max_vocab):
    path = os.path.join(work, 'vocab.txt')
    if os.path.exists(path):
        return open(path, encoding='utf-8').read().split('\n')[:-1]
    full = open(os.path.join(ROOT, 'weights', 'neobert-mini', 'vocab.txt'), encoding='utf-8').read().split('\n')
    if full[-1] == '':
        full.pop()
    wp = WordPiece(full)
    counts = Counter()
    for text in train_texts(data):
        counts.update(wp.encode(text, max_len=10 ** 6)[1:-1])
    specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    single = [t for t in full if (len(t) == 1 or (t.startswith('##') and len(t) == 3)) and t not in specials]
    single_set = set(single)
    # printable ASCII and Latin-1 letters keep every user text tokenisable without [UNK] in English
    keep_single = [t for t in single if ord(t[-1]) < 0x250 or counts[wp.ids[t]] > 0]
    rest = [t for t in full if t not in single_set and t not in specials and not t.startswith('[unused')]
    rest = sorted((t for t in rest if counts[wp.ids[t]] >= 2), key=lambda t: (-counts[wp.ids[t]], wp.ids[t]))
    room = max_vocab - len(specials) - len(keep_single)
    chosen = set(rest[:room])
    # keep the original order (pieces sorted as in bert-base-uncased), specials first
    vocab = specials + [t for t in full if t in chosen or t in keep_single]
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
        f.write('\n'.join(vocab) + '\n')
    os.replace(path + '.tmp', path)
    print(f'vocab: {len(vocab)} pieces ({len(keep_single)} single characters) of {len(full)}; '
          f'{len(rest)} multi-character pieces used twice or more', flush=True)
    return vocab


def make_pairs(data, epoch, rng_seed, aug, phase=1):
    """One (anchor, positive, hard negative) triple per training synset, in a seeded order.
    Kinds: definition<->lemmas, definition<->one lemma, lemma<->lemma (synonyms), example<->definition,
    example<->lemmas, sentence<->sentence (two examples of the synset; an example and the same example
    with its lemma swapped for a synonym; an example or a definition and its WordNet paraphrase, most
    words replaced by synonyms and function words swapped), lemmas<->hypernym lemmas.
    The hard negative shares words with the anchor but not its meaning: another synset's text holding
    one of its content words (the same word in another sense, or another topic), or for a sentence
    the same sentence with its key word swapped for a random word of that part of speech. With the
    in-batch negatives, these teach that shared words are not similarity.
    Phase 2 (the second learning-rate cycle) draws sentence kinds three times as often, swaps the
    key word of a sentence for the hard negative more often, and replaces more words in paraphrases."""
    w = 3 if phase == 2 else 1
    rng = random.Random(rng_seed * 1000 + epoch)
    order = list(data['train'])
    rng.shuffle(order)
    synsets = data['synsets']
    para, neg = aug['paraphraser'], aug['negatives']
    triples = []
    for s in order:
        ss = synsets[s]
        L, d, ex = ss['lemmas'], ss['definition'], ss['examples']
        hyper = [h for h in ss['hypernyms'] if h in aug['train']]
        kinds = []
        if d:
            kinds += ['def-lemmas'] * 4 + ['def-lemma'] * 2 + ['def-para'] * 2 * w
        if len(L) >= 2:
            kinds += ['syn-syn'] * 3
        if ex and d:
            kinds += ['ex-def'] * 2 * w + ['ex-lemmas']
        if len(ex) >= 2:
            kinds += ['ex-ex'] * 2 * w
        own = [(e, l) for e in ex for l in L if re.search(r'\b' + re.escape(l) + r'\b', e, re.I)]
        if own and len(L) >= 2:
            kinds += ['ex-swap'] * 2 * w
        if ex:
            kinds += ['ex-para'] * 3 * w
        if hyper:
            kinds += ['hyper']
        if not kinds:
            continue
        k = rng.choice(kinds)
        b_kind = 'sent'
        if k == 'def-lemmas':
            a, b, b_kind = d, lemma_text(L), 'lemmas'
        elif k == 'def-lemma':
            a, b, b_kind = d, rng.choice(L), 'lemmas'
        elif k == 'def-para':
            b, n = para.paraphrase(d, rng, p_content=0.8 if phase == 1 else 0.95)
            if n == 0:
                continue
            a = d
        elif k == 'syn-syn':
            a, b = rng.sample(L, 2)
            b_kind = 'lemmas'
        elif k == 'ex-def':
            a, b = rng.choice(ex), d
        elif k == 'ex-ex':
            a, b = rng.sample(ex, 2)
        elif k == 'ex-swap':
            a, l = rng.choice(own)
            other = rng.choice([x for x in L if x != l])
            b = re.sub(r'\b' + re.escape(l) + r'\b', lambda _: other, a, count=1, flags=re.I)
        elif k == 'ex-para':
            a = rng.choice(ex)
            lemma = next((l for e, l in own if e == a), None)
            b, n = para.paraphrase(a, rng, own=(s, lemma) if lemma else None, p_content=0.8 if phase == 1 else 0.95)
            if n == 0:
                continue
        elif k == 'hyper':
            a, b, b_kind = lemma_text(L), lemma_text(synsets[rng.choice(hyper)]['lemmas']), 'lemmas'
        else:
            a, b, b_kind = rng.choice(ex), lemma_text(L), 'lemmas'
        n = None
        if b_kind == 'sent' and rng.random() < (0.35 if phase == 1 else 0.7):
            lemma = next((l for e, l in own if e == a), None)
            if lemma:
                n = neg.swapped(a, lemma, ss['pos'], rng)
        if n is None:
            n = neg.sharing(a, s, b_kind, rng)
        if n is None:
            n = neg.texts[rng.randrange(len(neg.texts))][1]
        triples.append((a, b, n, s))
    return triples


def batches(triples, batch_size):
    """Batches with no repeated text anywhere in them (a repeat would be a false negative)."""
    out, cur, seen = [], [], set()
    for a, b, n, s in triples:
        keys = (a.lower(), b.lower(), n.lower())
        if len(set(keys)) < 3 or any(k in seen for k in keys):
            continue  # dropped this epoch; another epoch draws another triple for the synset
        cur.append((a, b, n))
        seen.update(keys)
        if len(cur) == batch_size:
            out.append(cur)
            cur, seen = [], set()
    return out


def pad(seqs, pad_id):
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return ids, mask


def config_for(vocab_size, args):
    return {
        'architectures': ['BertModel'],
        'model_type': 'bert',
        'attention_probs_dropout_prob': 0.1,
        'hidden_dropout_prob': 0.1,
        'hidden_act': 'gelu',
        'hidden_size': args.hidden,
        'initializer_range': 0.02,
        'intermediate_size': args.intermediate,
        'layer_norm_eps': 1e-12,
        'max_position_embeddings': 128,
        'num_attention_heads': args.heads,
        'num_hidden_layers': args.layers,
        'pad_token_id': 0,
        'position_embedding_type': 'absolute',
        'type_vocab_size': 2,
        'vocab_size': vocab_size,
        'torch_dtype': 'float16',
    }


def lr_at(step, total, peak, warmup):
    """Linear warm-up, then cosine decay to 0 at `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def stage_train(work, data, vocab, args):
    cfg = config_for(len(vocab), args)
    torch.manual_seed(SEED)
    model = Bert(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    wp = WordPiece(vocab)
    ckpt = os.path.join(work, 'checkpoint.pt')
    step, log = 0, []
    if os.path.exists(ckpt):
        state = torch.load(ckpt)
        model.load_state_dict(state['model'])
        opt.load_state_dict(state['opt'])
        step, log = state['step'], state['log']
        print(f'resumed at step {step}', flush=True)
    total = args.steps + args.phase2_steps
    if step >= total or args.export_only:
        return model, cfg, log
    # epoch e holds batches [start, start + len(epoch_batches)) of the run: the same on a resume
    # phase 2 starts its own epochs (numbered from 1000) at step args.steps
    aug = augmenters(data)
    phase_of = lambda st: 1 if st < args.steps else 2
    epoch, start = (0, 0) if phase_of(step) == 1 else (1000, args.steps)
    epoch_batches = batches(make_pairs(data, epoch, SEED, aug, phase_of(step)), args.batch)
    t0, last_ckpt = time.time(), time.time()
    elapsed_before = log[-1]['elapsed_s'] if log else 0.0
    model.train()
    while step < total:
        if step == args.steps and epoch < 1000:
            epoch, start = 1000, step
            epoch_batches = batches(make_pairs(data, epoch, SEED, aug, 2), args.batch)
        while step >= start + len(epoch_batches):
            start += len(epoch_batches)
            epoch += 1
            epoch_batches = batches(make_pairs(data, epoch, SEED, aug, phase_of(step)), args.batch)
        batch = epoch_batches[step - start]
        a_ids, a_mask = pad([wp.encode(a, args.max_len) for a, _, _ in batch], wp.pad)
        b_ids, b_mask = pad([wp.encode(b, args.max_len) for _, b, _ in batch], wp.pad)
        n_ids, n_mask = pad([wp.encode(n, args.max_len) for _, _, n in batch], wp.pad)
        for g in opt.param_groups:
            g['lr'] = (lr_at(step, args.steps, args.lr, args.warmup) if step < args.steps else
                       lr_at(step - args.steps, args.phase2_steps, args.lr / 2, args.warmup))
        _, _, ea = model.embed(a_ids, a_mask)
        _, _, eb = model.embed(b_ids, b_mask)
        _, _, en = model.embed(n_ids, n_mask)
        # anchor -> every positive and every hard negative of the batch; positive -> every anchor
        logits = args.scale * ea @ torch.cat([eb, en]).T
        target = torch.arange(len(batch))
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits[:, :len(batch)].T, target)) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        acc = (logits.argmax(1) == target).float().mean().item()
        elapsed = elapsed_before + time.time() - t0
        log.append(dict(step=step, epoch=epoch, loss=round(loss.item(), 4), acc=round(acc, 4), elapsed_s=round(elapsed, 1)))
        if step % 10 == 0 or step <= 5:
            print(f'step {step}/{total} epoch {epoch} loss {loss.item():.4f} in-batch acc {acc:.3f} '
                  f'lr {opt.param_groups[0]["lr"]:.2e} {elapsed:.0f}s', flush=True)
        if time.time() - last_ckpt > args.ckpt_minutes * 60 or step == total:
            scores = evaluate(model, wp, data)
            log[-1]['eval'] = scores
            print(f'eval at step {step}: {scores}', flush=True)
            model.train()
            torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), step=step, log=log), ckpt + '.tmp')
            os.replace(ckpt + '.tmp', ckpt)
            last_ckpt = time.time()
    return model, cfg, log


def augmenters(data):
    t = time.time()
    lex = Lexicon(WORDNET, data['synsets'], data['train'])
    aug = dict(train=set(data['train']), paraphraser=Paraphraser(lex),
               negatives=Negatives(data['synsets'], data['train'], lemma_text))
    print(f'augmenters ready in {time.time() - t:.0f}s', flush=True)
    return aug


@torch.no_grad()
def evaluate(model, wp, data, batch=256):
    """Held-out gloss -> lemma recall@1 and MRR (as bench/embedder-quality.ts computes them) and the
    dev sentence triplets (bench/data/sentence-triplets.json: dev only; the test set is the bench's)."""
    model.eval()

    def embed(texts):
        out = []
        for i in range(0, len(texts), batch):
            ids, mask = pad([wp.encode(t) for t in texts[i:i + batch]], wp.pad)
            out.append(model.embed(ids, mask)[2])
        return torch.cat(out)

    held = [data['synsets'][s] for s in data['held_out']]
    q = embed([h['definition'] for h in held])
    c = embed([lemma_text(h['lemmas']) for h in held])
    sims = q @ c.T
    rank = (sims > sims.diagonal()[:, None]).sum(1) + 1
    dev = json.load(open(os.path.join(ROOT, 'bench', 'data', 'sentence-triplets.json')))['dev']['triplets']
    e = embed([t for triplet in dev for t in triplet]).view(len(dev), 3, -1)
    closer = ((e[:, 0] * e[:, 1]).sum(-1) > (e[:, 0] * e[:, 2]).sum(-1)).sum().item()
    return dict(r1=round((rank == 1).float().mean().item(), 4), mrr=round((1.0 / rank.float()).mean().item(), 4),
                dev_triplets=f'{closer}/{len(dev)}')


PARITY_TEXTS = [
    'the cat sat on the mat',
    'a kitten rests on the rug',
    'GPUs run neural networks',
    'a large natural stream of water (larger than a creek)',
    'river',
    "Don't panic: the café's crème brûlée costs $4.50!",
    'an expert who studies the structure and evolution of the earth',
    'hello',
]


def stage_export(work, model, cfg, vocab, log, args):
    out = os.path.join(ROOT, args.out)
    os.makedirs(os.path.join(out, '1_Pooling'), exist_ok=True)
    tensors = {k: v.detach().float().numpy().astype(np.float16) for k, v in model.hub_state(cfg['num_hidden_layers']).items()}
    write_safetensors(os.path.join(out, 'model.safetensors'), tensors, {'format': 'pt'})
    write_json(os.path.join(out, 'config.json'), cfg)
    with open(os.path.join(out, 'vocab.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(vocab) + '\n')
    write_json(os.path.join(out, 'tokenizer_config.json'), {
        'tokenizer_class': 'BertTokenizer', 'do_lower_case': True, 'tokenize_chinese_chars': True,
        'strip_accents': None, 'model_max_length': 128, 'clean_up_tokenization_spaces': True,
        'cls_token': '[CLS]', 'sep_token': '[SEP]', 'pad_token': '[PAD]', 'mask_token': '[MASK]', 'unk_token': '[UNK]'})
    write_json(os.path.join(out, 'special_tokens_map.json'), {
        'cls_token': '[CLS]', 'sep_token': '[SEP]', 'pad_token': '[PAD]', 'mask_token': '[MASK]', 'unk_token': '[UNK]'})
    write_json(os.path.join(out, 'modules.json'), [
        {'idx': 0, 'name': '0', 'path': '', 'type': 'sentence_transformers.models.Transformer'},
        {'idx': 1, 'name': '1', 'path': '1_Pooling', 'type': 'sentence_transformers.models.Pooling'},
        {'idx': 2, 'name': '2', 'path': '2_Normalize', 'type': 'sentence_transformers.models.Normalize'}])
    write_json(os.path.join(out, '1_Pooling', 'config.json'), {
        'word_embedding_dimension': cfg['hidden_size'], 'pooling_mode_cls_token': False, 'pooling_mode_mean_tokens': True,
        'pooling_mode_max_tokens': False, 'pooling_mode_mean_sqrt_len_tokens': False,
        'pooling_mode_weightedmean_tokens': False, 'pooling_mode_lasttoken': False, 'include_prompt': True})
    write_json(os.path.join(out, 'sentence_bert_config.json'), {'max_seq_length': 128, 'do_lower_case': False})
    write_json(os.path.join(out, 'config_sentence_transformers.json'), {
        'prompts': {}, 'default_prompt_name': None, 'similarity_fn_name': 'cosine'})
    write_json(os.path.join(work, 'train-log.json'), log)

    # parity fixture: the stored F16 weights, upcast to f32, through this file's forward
    stored = read_safetensors(os.path.join(out, 'model.safetensors'))
    ref = Bert(cfg)
    ref.load_hub_state({k: torch.from_numpy(v.astype(np.float32)) for k, v in stored.items()})
    ref.eval()
    wp = WordPiece(vocab)
    seqs = [wp.encode(t) for t in PARITY_TEXTS]
    ids, mask = pad(seqs, wp.pad)
    with torch.no_grad():
        h, mean, unit = ref.embed(ids, mask)
    fixture = os.path.join(ROOT, 'test', 'fixtures', 'wordnet-mini')
    os.makedirs(fixture, exist_ok=True)
    write_safetensors(os.path.join(fixture, 'expected.safetensors'), {
        'input_ids': ids.numpy().astype(np.int64), 'attention_mask': mask.numpy().astype(np.int64),
        'last_hidden_state': h.numpy().astype(np.float32), 'pooled_mean': mean.numpy().astype(np.float32),
        'sentence_embedding': unit.numpy().astype(np.float32)},
        {'reference': 'scripts/train-embedder/train.py (Bert.embed: BertModel, mean pooling, Normalize)',
         'weights': args.out + '/model.safetensors (F16 upcast to F32)'})
    # the tokenizer on more text: held-out definitions and lemmas (what the bench feeds the engine)
    held = json.load(open(os.path.join(ROOT, 'bench', 'data', 'wordnet-heldout.json')))['synsets'][:200]
    more = [x['definition'] for x in held] + [lemma_text(x['lemmas']) for x in held]
    write_json(os.path.join(fixture, 'texts.json'), {
        'note': 'texts and the ids scripts/train-embedder/train.py (WordPiece) gives them; the first are expected.safetensors rows',
        'wordnet_licence': wordnet_licence(),
        'texts': PARITY_TEXTS + more, 'input_ids': seqs + [wp.encode(t) for t in more]})
    n_params = sum(v.size for v in stored.values())
    size = os.path.getsize(os.path.join(out, 'model.safetensors'))
    print(f'export: {args.out}: {n_params} parameters, model.safetensors {size / 1e6:.2f} MB; '
          f'fixture test/fixtures/wordnet-mini', flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--work', default=os.path.join(ROOT, 'tmp', 'train-embedder'))
    p.add_argument('--out', default='weights/wordnet-mini')
    p.add_argument('--vocab-size', type=int, default=12288)
    p.add_argument('--hidden', type=int, default=256)
    p.add_argument('--layers', type=int, default=2)
    p.add_argument('--heads', type=int, default=4)
    p.add_argument('--intermediate', type=int, default=512)
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--steps', type=int, default=900)
    p.add_argument('--warmup', type=int, default=50)
    p.add_argument('--phase2-steps', type=int, default=400, help='a second cosine cycle (lr / 2), sentence kinds weighted up')
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--scale', type=float, default=20.0)
    p.add_argument('--max-len', type=int, default=24)
    p.add_argument('--ckpt-minutes', type=float, default=4)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--export-only', action='store_true', help='export the checkpoint in --work as it is')
    p.add_argument('--smoke', action='store_true', help='a few steps into --work/smoke, no export')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    random.seed(SEED); np.random.seed(SEED % 2 ** 32); torch.manual_seed(SEED)
    os.makedirs(args.work, exist_ok=True)
    data = stage_data(args.work)
    print(f'data: {len(data["synsets"])} synsets, {len(data["train"])} trained on, {len(data["held_out"])} held out', flush=True)
    vocab = stage_vocab(args.work, data, args.vocab_size)
    if args.smoke:
        args.work = os.path.join(args.work, 'smoke')
        os.makedirs(args.work, exist_ok=True)
    model, cfg, log = stage_train(args.work, data, vocab, args)
    if not args.smoke:
        stage_export(args.work, model, cfg, vocab, log, args)


if __name__ == '__main__':
    main()
