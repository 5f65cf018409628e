"""Sentence-level training data made from WordNet alone, for scripts/train-embedder/train.py:

- Paraphraser: a sentence with most of its words replaced by WordNet synonyms (each word's most
  frequent sense, found with WordNet's own morphology: the *.exc lists and morphy's suffix rules) and
  function words swapped for near-equivalents, so positives share few words;
- Negatives: "shares words, other meaning" texts for an anchor: another synset's text that contains
  one of the anchor's content words (the same word in another sense, or a gloss on another topic),
  or the anchor sentence with its key word swapped for an unrelated word of the same part of speech.

Only training synsets are used as sources (the held-out ones must teach nothing).
"""
import os, random, re
from collections import defaultdict

POS_CODE = {'noun': 'n', 'verb': 'v', 'adj': 'a', 'adv': 'r'}

# WordNet's morphy detachment rules (wn morph.c)
SUFFIXES = {
    'noun': [('s', ''), ('ses', 's'), ('xes', 'x'), ('zes', 'z'), ('ches', 'ch'), ('shes', 'sh'), ('men', 'man'), ('ies', 'y')],
    'verb': [('s', ''), ('ies', 'y'), ('es', 'e'), ('es', ''), ('ed', 'e'), ('ed', ''), ('ing', 'e'), ('ing', '')],
    'adj': [('er', ''), ('est', ''), ('er', 'e'), ('est', 'e')],
    'adv': [],
}

# Words never replaced by a WordNet sense: WordNet lists many of them as rare nouns ("a" = vitamin A,
# "in" = inch, "be" = beryllium), which would turn a paraphrase into nonsense.
STOP = set('''a an the this that these those some any each every no not nor and or but if then than so as
of to in on at by for from with without within into onto upon over under above below between among through
during before after about against along around across behind beyond near off out up down away
is are was were be been being am do does did done have has had having will would shall should can could
may might must i me my mine we us our ours you your yours he him his she her hers it its they them their
theirs who whom whose which what where when why how all both either neither one ones own same such
very too also just only even still yet again ever never here there now more most much many few less least
other another'''.split())

# Function words and their near-equivalents: a paraphrase swaps them, so the model learns that they
# carry little of a sentence's meaning (written for this script).
FUNCTION_SWAPS = {
    'the': ['a', 'this', 'that'], 'a': ['the', 'one', 'some'], 'an': ['the', 'one', 'some'],
    'this': ['the', 'that'], 'these': ['those', 'the'], 'those': ['these', 'the'],
    'on': ['upon', 'atop'], 'upon': ['on'], 'in': ['inside', 'within'], 'within': ['in', 'inside'],
    'into': ['inside'], 'is': ['was', 'seems'], 'was': ['is', 'seemed'], 'are': ['were', 'seem'],
    'were': ['are', 'seemed'], 'he': ['she'], 'she': ['he'], 'his': ['her'], 'her': ['his'],
    'they': ['we'], 'we': ['they'], 'their': ['our'], 'our': ['their'], 'very': ['really', 'extremely'],
    'with': ['alongside'], 'about': ['regarding', 'concerning'], 'near': ['beside'], 'big': ['large'],
    'large': ['big'], 'small': ['little'], 'little': ['small'],
}

WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def read_index(root):
    """pos -> lemma -> (synset ids in WordNet's frequency order, tagged-sense count)."""
    out = {}
    for pos, code in POS_CODE.items():
        table = {}
        with open(os.path.join(root, 'index.' + pos), encoding='utf-8', errors='replace') as f:
            for line in f:
                if line.startswith('  '):
                    continue
                p = line.split()
                lemma, n_syn, n_ptr = p[0], int(p[2]), int(p[3])
                i = 4 + n_ptr
                tagged = int(p[i + 1])
                offsets = p[i + 2:i + 2 + n_syn]
                table[lemma] = ([code + o for o in offsets], tagged)
        out[pos] = table
    return out


def read_exceptions(root):
    """pos -> inflected form -> base forms (the *.exc lists)."""
    out = {}
    for pos in POS_CODE:
        table = defaultdict(list)
        with open(os.path.join(root, pos + '.exc'), encoding='utf-8', errors='replace') as f:
            for line in f:
                p = line.split()
                if len(p) >= 2:
                    table[p[0]].extend(p[1:])
        out[pos] = table
    return out


class Lexicon:
    def __init__(self, root, synsets, train_ids):
        self.index = read_index(root)
        self.exc = read_exceptions(root)
        self.synsets = synsets
        self.train = set(train_ids)

    def analyse(self, word):
        """The word's likeliest reading: (pos, base form, suffix rule or None, synset id of its first
        sense), choosing the part of speech with the most sense-tagged senses; None if WordNet lacks it."""
        w = word.lower()
        best = None
        for pos in POS_CODE:
            table = self.index[pos]
            forms = []
            if w in table:
                forms.append((w, None))
            for base in self.exc[pos].get(w, []):
                if base in table:
                    forms.append((base, 'exc'))
            for suf, rep in SUFFIXES[pos]:
                if w.endswith(suf) and len(w) > len(suf) + 1:
                    base = w[:len(w) - len(suf)] + rep
                    if base in table:
                        forms.append((base, (suf, rep)))
            for base, rule in forms:
                offsets, tagged = table[base]
                if best is None or tagged > best[0]:
                    best = (tagged, pos, base, rule, offsets[0])
                break  # the first (most literal) form of this pos
        return None if best is None else best[1:]


def inflect(base, rule, pos):
    """Re-applies a morphy suffix rule to a substitute (the last word of a multi-word lemma)."""
    if rule is None or rule == 'exc':
        return base
    suf, rep = rule
    # verbs inflect their first word ("do by" -> "did by"), nouns and adjectives their last
    words = base.split(' ')
    at = 0 if pos == 'verb' else len(words) - 1
    w = words[at]
    if rep and w.endswith(rep):
        w = w[:len(w) - len(rep)]
    elif rep == '' and w.endswith('e') and suf[0] in 'ei':
        w = w[:-1]  # handle + ed -> handled
    if rep == 'y' and len(w) >= 1 and w[-1] in 'aeiou':
        suf = 's' if suf == 'ies' else suf  # survey + ies -> surveys
        w += 'y'
    words[at] = w + suf
    return ' '.join(words)


class Paraphraser:
    def __init__(self, lexicon):
        self.lex = lexicon

    def synonyms(self, sid, exclude):
        ss = self.lex.synsets.get(sid)
        if ss is None or sid not in self.lex.train:
            return []
        return [l for l in ss['lemmas'] if l.lower() != exclude and len(l.split()) <= 2 and not l[:1].isupper()]

    def hypernym_lemmas(self, sid):
        ss = self.lex.synsets.get(sid)
        out = []
        for h in (ss or {}).get('hypernyms', []):
            if h in self.lex.train:
                out += [l for l in self.lex.synsets[h]['lemmas'] if len(l.split()) <= 2 and not l[:1].isupper()]
        return out

    def paraphrase(self, text, rng, own=None, p_content=0.8, p_function=0.6):
        """`text` with words replaced; `own` = (synset id, lemma) pins the sense of the synset's own
        lemma in its example sentence. Returns (paraphrase, number of content words replaced)."""
        own_sid, own_lemma = own if own else (None, None)
        replaced = 0

        def sub(m):
            nonlocal replaced
            word = m.group(0)
            low = word.lower()
            if low in STOP or low in FUNCTION_SWAPS:
                if low in FUNCTION_SWAPS and rng.random() < p_function:
                    return rng.choice(FUNCTION_SWAPS[low])
                return word
            if rng.random() > p_content:
                return word
            a = self.lex.analyse(low)
            if a is None:
                return word
            pos, base, rule, sid = a
            if own_lemma is not None and base == own_lemma.lower():
                sid = own_sid
            cands = self.synonyms(sid, base)
            if not cands or rng.random() < 0.15:
                cands = cands + self.hypernym_lemmas(sid)
            if not cands:
                return word
            replaced += 1
            return inflect(rng.choice(cands).lower(), rule, pos)

        out = WORD.sub(sub, text)
        # article agreement after substitution: "a infant" -> "an infant"
        out = re.sub(r"\b([Aa])n? (?=[A-Za-z])(\w)", lambda m: m.group(1) + ('n ' if m.group(2).lower() in 'aeiou' else ' ') + m.group(2), out)
        return out, replaced


def content_words(text):
    return [w for w in (m.group(0).lower() for m in WORD.finditer(text)) if w not in STOP and len(w) > 2]


class Negatives:
    """Texts that share a content word with an anchor but belong to another synset."""

    def __init__(self, synsets, train_ids, lemma_text):
        self.synsets = synsets
        self.train = list(train_ids)
        self.by_word = {'lemmas': defaultdict(list), 'sent': defaultdict(list)}
        self.texts = []
        for sid in self.train:
            ss = synsets[sid]
            entries = [('lemmas', lemma_text(ss['lemmas']))]
            if ss['definition']:
                entries.append(('sent', ss['definition']))
            entries += [('sent', e) for e in ss['examples']]
            for kind, t in entries:
                k = len(self.texts)
                self.texts.append((sid, t))
                for w in set(content_words(t)):
                    self.by_word[kind][w].append(k)
        self.by_pos = defaultdict(list)
        for sid in self.train:
            ss = synsets[sid]
            self.by_pos[ss['pos']] += [l for l in ss['lemmas'] if len(l.split()) == 1 and not l[:1].isupper()]

    def sharing(self, anchor, sid, kind, rng):
        """Another synset's text of `kind` ('lemmas' or 'sent') sharing a content word with `anchor`."""
        related = {sid, *self.synsets[sid]['hypernyms']}
        words = content_words(anchor)
        rng.shuffle(words)
        for w in words[:4]:
            hits = self.by_word[kind].get(w)
            if not hits:
                continue
            for _ in range(4):
                s2, t = self.texts[rng.choice(hits)]
                if s2 not in related and sid not in self.synsets[s2]['hypernyms'] and t.lower() != anchor.lower():
                    return t
        return None

    def swapped(self, sentence, lemma, pos, rng):
        """`sentence` with `lemma` replaced by a random word of the same part of speech."""
        other = rng.choice(self.by_pos[pos])
        pattern = r'\b' + re.escape(lemma) + r'\b'
        if other.lower() == lemma.lower() or not re.search(pattern, sentence, re.I):
            return None
        return re.sub(pattern, lambda _: other, sentence, count=1, flags=re.I)
