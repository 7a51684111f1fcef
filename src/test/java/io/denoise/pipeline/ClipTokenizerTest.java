package io.denoise.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClipTokenizerTest {

    private static final Path TOKENIZER = TestModels.TINY.resolve("tokenizer");
    private static final List<String> PROMPTS = List.of("a red circle on a white background", "",
            "An ORANGE   square\ton a Gray background!", "a purple triangle, 3 times — très bien", "unknownword");

    @Test
    void vocabAndMergesBuildTheSameTokenizerAsTokenizerJson(@TempDir Path dir) throws IOException {
        Files.copy(TOKENIZER.resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.copy(TOKENIZER.resolve("merges.txt"), dir.resolve("merges.txt"));
        Files.copy(TOKENIZER.resolve("special_tokens_map.json"), dir.resolve("special_tokens_map.json"));
        try (ClipTokenizer fromJson = ClipTokenizer.load(TOKENIZER); ClipTokenizer fromMerges = ClipTokenizer.load(dir)) {
            for (String prompt : PROMPTS) {
                assertArrayEquals(fromJson.encode(prompt).ids(), fromMerges.encode(prompt).ids(), prompt);
            }
        }
    }

    @Test
    void promptsAreWrappedInStartAndEndTokensAndPaddedTo77WithTheEndToken() {
        try (ClipTokenizer tokenizer = ClipTokenizer.load(TOKENIZER)) {
            long[] ids = tokenizer.encode("a red circle").ids();
            assertEquals(77, ids.length);
            long start = ids[0];
            long end = ids[4];
            assertTrue(start != end);
            for (int i = 5; i < 77; i++) {
                assertEquals(end, ids[i], "padding at " + i);
            }
            assertArrayEquals(tokenizer.encode("a red circle").ids(), tokenizer.encode("A  RED circle").ids(),
                    "lower-cased, whitespace folded");
        }
    }

    @Test
    void aPromptLongerThan75TokensIsTruncatedAndSaysHowMany() {
        try (ClipTokenizer tokenizer = ClipTokenizer.load(TOKENIZER)) {
            ClipTokenizer.Tokens tokens = tokenizer.encode(String.join(" ", java.util.Collections.nCopies(80, "red")));
            assertEquals(5, tokens.droppedTokens());
            assertEquals(tokens.ids()[76], tokenizer.encode("").ids()[1], "still ends with the end token");
            assertEquals(0, tokenizer.encode("a red circle").droppedTokens());
        }
    }

    @Test
    void aConfiguredPadTokenIsUsedForPaddingAsSd2Does(@TempDir Path dir) throws IOException {
        for (String f : List.of("vocab.json", "merges.txt", "tokenizer.json")) {
            Files.copy(TOKENIZER.resolve(f), dir.resolve(f));
        }
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\": \"!\"}");
        try (ClipTokenizer sd1 = ClipTokenizer.load(TOKENIZER); ClipTokenizer sd2 = ClipTokenizer.load(dir)) {
            // the vocabulary's entry "!" (id 0 in CLIP's), as transformers' convert_tokens_to_ids finds the pad
            // token, not the word "!" ("!</w>") that tokenizing "!" gives
            long bang = Json.readOptional(TOKENIZER.resolve("vocab.json")).get("!").asLong();
            assertNotEquals(sd1.encode("!").ids()[1], bang);
            assertEquals(bang, sd2.encode("a red circle").ids()[76]);
            assertEquals(sd1.encode("a red circle").ids()[4], sd2.encode("a red circle").ids()[4], "end token kept");
        }
    }

    @Test
    void aDirectoryWithoutTokenizerFilesFailsAtLoadNamingIt(@TempDir Path dir) {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ClipTokenizer.load(dir));
        assertTrue(e.getMessage().contains("neither tokenizer.json nor vocab.json + merges.txt"), e.getMessage());
    }
}
