package io.denoise.api;

/** A valid 64 × 64 PNG for image-to-image requests. */
final class TinyPng {

    static final String BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAEAAAABACAIAAAAlC+aJAAAAeklEQVR4nO3PUQkAIBTAwBfFKEYzuiH8OITBAtzm7PV1wwUNaEEDWtCAFjSgBQ1oQQNa0IAWNKAFDWhBA1rQgBY0oAUNaEEDWtCAFjSgBQ1oQQNa0IAWNKAFDWhBA1rQgBY0oAUNaEEDWtCAFjSgBQ1oQQNa0IAWPHYB+/cA00BishIAAAAASUVORK5CYII=";

    private TinyPng() {
    }
}
