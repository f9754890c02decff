"""Offline demo: tiny models and small fixtures in the official formats, end to end on CPU.

The fixtures describe a small synthetic world (people, cities, jobs, years) in English,
German and Spanish: SQuAD-format English QA for the intermediate task, XQuAD-style QA,
CoNLL-U POS treebanks and Tatoeba-style bitext for the targets. Names and cities are shared
across languages, which is what lets a tiny model transfer at all.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

LANGS = ("en", "de", "es")
NAMES = "Anna Ben Carla David Elena Felix Greta Hugo Ines Jonas Klara Lukas Maria Nico Olga Paul Rosa Samuel Tina Viktor".split()
CITIES = "Paris Berlin Madrid Lima Tokyo Oslo Cairo Quito Dublin Vienna Prague Lisbon Bogota Sydney Toronto Nairobi".split()
JOBS = {"en": "doctor teacher baker pilot farmer singer painter lawyer".split(),
        "de": "Arzt Lehrer Bäcker Pilot Bauer Sänger Maler Anwalt".split(),
        "es": "médico profesor panadero piloto granjero cantante pintor abogado".split()}
# (fact sentence, question) per relation; {v} is the answer span
FACTS = {
    "en": {"city": ("{n} lives in {v}.", "Where does {n} live?"), "job": ("{n} works as a {v}.", "What does {n} work as?"),
           "year": ("{n} was born in {v}.", "When was {n} born?")},
    "de": {"city": ("{n} wohnt in {v}.", "Wo wohnt {n}?"), "job": ("{n} arbeitet als {v}.", "Als was arbeitet {n}?"),
           "year": ("{n} wurde {v} geboren.", "Wann wurde {n} geboren?")},
    "es": {"city": ("{n} vive en {v}.", "¿Dónde vive {n}?"), "job": ("{n} trabaja como {v}.", "¿Como qué trabaja {n}?"),
           "year": ("{n} nació en {v}.", "¿Cuándo nació {n}?")},
}
# POS sentence templates: (word or slot, UPOS)
POS_TEMPLATES = {
    "en": [[("the", "DET"), ("ADJ", "ADJ"), ("NOUN", "NOUN"), ("VERB", "VERB"), ("a", "DET"), ("NOUN", "NOUN"), (".", "PUNCT")],
           [("NAME", "PROPN"), ("VERB", "VERB"), ("in", "ADP"), ("CITY", "PROPN"), (".", "PUNCT")]],
    "de": [[("der", "DET"), ("ADJ", "ADJ"), ("NOUN", "NOUN"), ("VERB", "VERB"), ("einen", "DET"), ("NOUN", "NOUN"), (".", "PUNCT")],
           [("NAME", "PROPN"), ("VERB", "VERB"), ("in", "ADP"), ("CITY", "PROPN"), (".", "PUNCT")]],
    "es": [[("el", "DET"), ("NOUN", "NOUN"), ("ADJ", "ADJ"), ("VERB", "VERB"), ("un", "DET"), ("NOUN", "NOUN"), (".", "PUNCT")],
           [("NAME", "PROPN"), ("VERB", "VERB"), ("en", "ADP"), ("CITY", "PROPN"), (".", "PUNCT")]],
}
LEXICON = {
    "en": {"ADJ": "big small old young red".split(), "NOUN": "dog cat house car book tree".split(), "VERB": "sees buys finds likes".split()},
    "de": {"ADJ": "große kleine alte junge rote".split(), "NOUN": "Hund Katze Haus Auto Buch Baum".split(), "VERB": "sieht kauft findet mag".split()},
    "es": {"ADJ": "grande pequeño viejo joven rojo".split(), "NOUN": "perro gato casa coche libro árbol".split(), "VERB": "ve compra encuentra quiere".split()},
}
ISO3 = {"de": "deu", "es": "spa"}


def _person(rng):
    return {"n": rng.choice(NAMES), "city": rng.choice(CITIES), "job": rng.randrange(len(JOBS["en"])),
            "year": str(rng.randrange(1900, 2020))}


def _value(person, relation, lang):
    return JOBS[lang][person["job"]] if relation == "job" else person[relation]


def qa_article(rng, lang: str, count: int, prefix: str, relations=("city", "job", "year")) -> dict:
    """SQuAD v1.1 JSON with `count` paragraphs of 4 facts and one question each."""
    paragraphs = []
    for i in range(count):
        people = {}
        while len(people) < 4:
            p = _person(rng)
            people[p["n"]] = p
        facts = [(p, rel) for p in people.values() for rel in rng.sample(relations, 1)]
        rng.shuffle(facts)
        context, starts = "", []
        for p, rel in facts:
            sentence = FACTS[lang][rel][0].format(n=p["n"], v=_value(p, rel, lang))
            starts.append(len(context) + sentence.index(_value(p, rel, lang)))
            context += sentence + " "
        k = rng.randrange(len(facts))
        p, rel = facts[k]
        paragraphs.append({"context": context.strip(), "qas": [{
            "id": f"{prefix}-{i}", "question": FACTS[lang][rel][1].format(n=p["n"]),
            "answers": [{"text": _value(p, rel, lang), "answer_start": starts[k]}]}]})
    return {"version": "1.1", "data": [{"title": prefix, "paragraphs": paragraphs}]}


def conllu(rng, lang: str, count: int, prefix: str) -> str:
    blocks = []
    for i in range(count):
        words = []
        for slot, tag in rng.choice(POS_TEMPLATES[lang]):
            pool = {"NAME": NAMES, "CITY": CITIES}.get(slot) or LEXICON[lang].get(slot)
            words.append((rng.choice(pool) if pool else slot, tag))
        text = " ".join(w for w, _ in words)
        lines = [f"# sent_id = {prefix}-{i}", f"# text = {text}"]
        lines += [f"{j}\t{w}\t_\t{t}\t_\t_\t0\tdep\t_\t_" for j, (w, t) in enumerate(words, 1)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n"


def bitext(rng, lang: str, count: int) -> tuple[list[str], list[str]]:
    src, eng = [], []
    for _ in range(count):
        p, rel = _person(rng), rng.choice(("city", "job", "year"))
        src.append(FACTS[lang][rel][0].format(n=p["n"], v=_value(p, rel, lang)))
        eng.append(FACTS["en"][rel][0].format(n=p["n"], v=_value(p, rel, "en")))
    return src, eng


def write_fixtures(root: str | Path, seed: int = 0) -> Path:
    """Write every demo data file under `root` in the layout the task registry expects."""
    root, rng = Path(root), random.Random(seed)
    files = {
        "squad/train-v1.1.json": json.dumps(qa_article(rng, "en", 800, "squad-train")),
        "squad/dev-v1.1.json": json.dumps(qa_article(rng, "en", 80, "squad-dev")),
        "target_qa/train-en.json": json.dumps(qa_article(rng, "en", 60, "tqa-train", ("city",))),
        "target_qa/dev-en.json": json.dumps(qa_article(rng, "en", 40, "tqa-dev")),
        "ud/UD_English-Demo/en_demo-ud-train.conllu": conllu(rng, "en", 300, "en-train"),
        "ud/UD_English-Demo/en_demo-ud-dev.conllu": conllu(rng, "en", 40, "en-dev"),
    }
    for lang in LANGS:
        files[f"xquad/xquad.{lang}.json"] = json.dumps(qa_article(random.Random(f"xquad{seed}"), lang, 60, "xquad"), ensure_ascii=False)
        if lang != "en":
            files[f"ud/UD_{lang}-Demo/{lang}_demo-ud-test.conllu"] = conllu(rng, lang, 60, f"{lang}-test")
            src, eng = bitext(random.Random(f"tatoeba{lang}{seed}"), lang, 100)
            files[f"tatoeba/tatoeba.{ISO3[lang]}-eng.{ISO3[lang]}"] = "\n".join(src) + "\n"
            files[f"tatoeba/tatoeba.{ISO3[lang]}-eng.eng"] = "\n".join(eng) + "\n"
    files["ud/UD_English-Demo/en_demo-ud-test.conllu"] = conllu(rng, "en", 60, "en-test")
    files["mlm/multilingual.txt"] = "\n".join(bitext(rng, "de", 100)[0] + bitext(rng, "es", 100)[0]) + "\n"
    # The SQuAD training set "machine-translated" to German (translated intermediate data): the
    # English file is the first draw from Random(seed), so a fresh one yields the same paragraphs.
    files["squad/train-v1.1.de.json"] = json.dumps(qa_article(random.Random(seed), "de", 800, "squad-train"), ensure_ascii=False)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def corpus_texts(languages, seed: int = 0) -> list[str]:
    """Sentences of the demo world in `languages`, for training a tokenizer."""
    rng, texts = random.Random(seed), []
    for lang in languages:
        for paragraph in qa_article(rng, lang, 200, "vocab")["data"][0]["paragraphs"]:
            texts += [paragraph["context"], paragraph["qas"][0]["question"]]
        texts += [line.split("\t")[1] for line in conllu(rng, lang, 200, "vocab").splitlines() if line[:1].isdigit()]
    return texts


def build_tiny_model(out_dir: str | Path, texts: list[str], seed: int = 0, hidden: int = 64, layers: int = 2,
                     vocab_size: int = 1500) -> Path:
    """A randomly initialised BERT with a WordPiece tokenizer trained on `texts`, saved as a
    normal HuggingFace model directory (loads with AutoModel/AutoTokenizer like any hub model)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                        sep_token="[SEP]", mask_token="[MASK]", model_max_length=512)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=2 * hidden, max_position_embeddings=512)
    BertModel(config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def demo_config(root: Path, models: list[str], output_dir: Path, seeds=(1,)) -> dict:
    """The demo experiment: baseline vs SQuAD-format intermediate QA, three targets."""
    return {
        "name": "demo", "output_dir": str(output_dir), "data_dir": str(root), "models": models, "seeds": list(seeds),
        "intermediate": [{"name": "baseline"}, {"name": "squad", "tasks": ["squad_v1"]}],
        "targets": ["xquad", "udpos", "tatoeba"],
        "data": {"xquad": {"train": "target_qa/train-en.json", "dev": "target_qa/dev-en.json"}},
        "languages": {"xquad": list(LANGS), "udpos": list(LANGS), "tatoeba": ["de", "es"]},
        "intermediate_training": {"learning_rate": 1e-3, "batch_size": 16, "epochs": 4, "max_length": 128, "precision": "no"},
        "target_training": {"learning_rate": 1e-3, "batch_size": 16, "epochs": 4, "max_length": 128, "precision": "no"},
        "retrieval": {"layer": -1, "pooling": "mean", "max_length": 128},
    }


def prepare_demo(workdir: str | Path) -> tuple[Path, dict[str, Path]]:
    """Fixtures plus two tiny models: one whose vocabulary covers all three languages, one English-only."""
    workdir = Path(workdir)
    root = write_fixtures(workdir / "data")
    models = {"tiny-multilingual": build_tiny_model(workdir / "models" / "tiny-multilingual", corpus_texts(LANGS)),
              "tiny-english": build_tiny_model(workdir / "models" / "tiny-english", corpus_texts(("en",)))}
    return root, models
