"""DE-III: Detail-Enhanced Intra- and Inter-modal Interaction for audio-visual emotion recognition."""
