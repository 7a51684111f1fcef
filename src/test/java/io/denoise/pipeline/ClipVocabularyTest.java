package io.denoise.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * The tokenizer on Stable Diffusion v1's real CLIP vocabulary (the tokenizer/ of the diffusers export) against
 * CLIP's ids for texts that exercise punctuation, numbers, emoji, accents, CJK, runs of whitespace, truncation,
 * contractions, special tokens, Unicode normalisation and lowercasing.
 *
 * <p>How the expected ids were obtained: {@code src/test/resources/tokenizer/clip-v1-cases.json} was written by
 * {@code models/tools/clip_bpe.py}, a plain-Python port of openai/CLIP's {@code simple_tokenizer.py} over the same
 * {@code vocab.json} + {@code merges.txt}, because transformers and ftfy cannot be installed here. The port
 * reproduces the squirrel prompt's and the empty prompt's ids that diffusers itself produced
 * ({@code tiny-sd-reference/input_ids_uncond_cond.bin}); of ftfy it applies only the NFC step, and it leaves out
 * {@code html.unescape}, so texts that ftfy or HTML unescaping would change are not among the cases.
 */
class ClipVocabularyTest {

    private static final Path CASES = Path.of("src", "test", "resources", "tokenizer", "clip-v1-cases.json");
    private static final ClipTokenizer TOKENIZER = ClipTokenizer.load(TestModels.TINY_SD.resolve("tokenizer"));

    @AfterAll
    static void close() {
        TOKENIZER.close();
    }

    @TestFactory
    Stream<DynamicTest> everyCaseGetsClipsIds() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : Json.readOptional(CASES).path("cases")) {
            String text = c.get("text").asText();
            long[] expected = new long[c.get("ids").size()];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = c.get("ids").get(i).asLong();
            }
            boolean truncated = c.get("truncated").asBoolean();
            String name = text.isBlank() ? "(empty)" : text.length() > 60 ? text.substring(0, 60) + "…" : text;
            tests.add(DynamicTest.dynamicTest(name, () -> {
                ClipTokenizer.Tokens tokens = TOKENIZER.encode(text);
                assertArrayEquals(expected, tokens.ids());
                assertEquals(truncated, tokens.droppedTokens() > 0, "truncated");
            }));
        }
        assertEquals(15, tests.size(), "cases in " + CASES);
        return tests.stream();
    }

    @Test
    void decomposedAndComposedAccentsGiveTheSameIds() {
        assertArrayEquals(TOKENIZER.encode("caf\u00e9").ids(), TOKENIZER.encode("cafe\u0301").ids());
    }

    @Test
    void htmlEntitiesAreNotUnescapedUnlikeClipsReference() {
        // openai/CLIP's basic_clean runs html.unescape twice, so it reads "&amp;" as "&"; this tokenizer does not
        assertNotEquals(TOKENIZER.encode("salt & pepper").ids()[3], TOKENIZER.encode("salt &amp; pepper").ids()[3]);
    }
}
