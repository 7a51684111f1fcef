package io.denoise.pipeline;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * CLIP's byte-level BPE tokenizer, as Stable Diffusion uses it: {@code <|startoftext|>}, up to 75 prompt tokens,
 * {@code <|endoftext|>}, then padding to 77 with the model's pad token (the end token for SD 1.x, {@code !} for
 * SD 2.x, as {@code tokenizer_config.json} says). Loads {@code tokenizer.json} when the directory has one, else
 * builds the same tokenizer in memory from {@code vocab.json} + {@code merges.txt}. Thread-safe; owns a native
 * tokenizer and must be closed.
 */
public final class ClipTokenizer implements AutoCloseable {

    static final String START = "<|startoftext|>";
    static final String END = "<|endoftext|>";
    /** The CLIP pre-tokenizer pattern: special tokens, contractions, letter runs, single digits, other symbols. */
    static final String CLIP_PATTERN =
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

    private static final ObjectMapper JSON = Json.MAPPER;

    /** A prompt's ids, padded to the model length, and how many prompt tokens did not fit. */
    public record Tokens(long[] ids, int droppedTokens) {
    }

    private final HuggingFaceTokenizer tokenizer;
    private final int maxLength;
    private final long startId;
    private final long endId;
    private final long padId;

    private ClipTokenizer(HuggingFaceTokenizer tokenizer, int maxLength, long startId, long endId, long padId) {
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.startId = startId;
        this.endId = endId;
        this.padId = padId;
    }

    /**
     * Loads the tokenizer from a diffusers {@code tokenizer/} directory.
     *
     * @throws ModelLoadException when the files are missing or unreadable
     */
    public static ClipTokenizer load(Path dir) {
        JsonNode config = Json.readOptional(dir.resolve("tokenizer_config.json"));
        JsonNode specials = Json.readOptional(dir.resolve("special_tokens_map.json"));
        int maxLength = config.path("model_max_length").asInt(77);
        if (maxLength <= 2 || maxLength > 1024) {
            maxLength = 77;
        }
        String pad = tokenText(specials.get("pad_token"), tokenText(config.get("pad_token"), END));
        byte[] json = tokenizerJson(dir);
        Map<String, String> options = Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");
        HuggingFaceTokenizer tokenizer;
        try (InputStream in = new ByteArrayInputStream(json)) {
            tokenizer = HuggingFaceTokenizer.newInstance(in, options);
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException("tokenizer: cannot load from " + dir + ": " + e.getMessage(), e);
        }
        try {
            long start = singleId(tokenizer, START);
            long end = singleId(tokenizer, END);
            long padId = vocabularyId(json, pad, tokenizer);
            return new ClipTokenizer(tokenizer, maxLength, start, end, padId);
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    /** Sequence length the text encoder takes (77 for Stable Diffusion). */
    public int maxLength() {
        return maxLength;
    }

    /**
     * Tokenizes a prompt: start token, at most {@code maxLength - 2} prompt tokens, end token, padding. The text is
     * cleaned as CLIP's reference tokenizer cleans it, as far as that is reproduced here: NFC, runs of whitespace
     * folded to one space, then lowercased with Java's context-aware {@link String#toLowerCase(Locale)} (a word-final
     * capital sigma becomes ς, as Python's {@code str.lower()} makes it; the tokenizers library's own lowercasing
     * maps it to σ). ftfy's other repairs (mojibake, curly quotes, ligatures, full-width forms) and CLIP's
     * {@code html.unescape} are not applied.
     */
    public Tokens encode(String prompt) {
        String cleaned = Normalizer.normalize(prompt, Normalizer.Form.NFC).toLowerCase(Locale.ROOT);
        long[] content = tokenizer.encode(cleaned, false, false).getIds();
        int room = maxLength - 2;
        int kept = Math.min(content.length, room);
        long[] ids = new long[maxLength];
        ids[0] = startId;
        System.arraycopy(content, 0, ids, 1, kept);
        ids[kept + 1] = endId;
        for (int i = kept + 2; i < maxLength; i++) {
            ids[i] = padId;
        }
        return new Tokens(ids, content.length - kept);
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    private static long singleId(HuggingFaceTokenizer tokenizer, String token) {
        Encoding e = tokenizer.encode(token, false, false);
        long[] ids = e.getIds();
        if (ids.length != 1) {
            throw new ModelLoadException("tokenizer: special token '" + token + "' is not a single vocabulary entry");
        }
        return ids[0];
    }

    /**
     * The id of a token as the vocabulary lists it, as transformers' {@code convert_tokens_to_ids} finds the pad
     * token: SD 2.x pads with {@code "!"}, entry 0, not the id of the word "!" ({@code "!</w>"}, 256) that
     * tokenizing it would give. Tokens the vocabulary does not list are tokenized and must give one id.
     */
    private static long vocabularyId(byte[] tokenizerJson, String token, HuggingFaceTokenizer tokenizer) {
        try {
            JsonNode id = JSON.readTree(tokenizerJson).path("model").path("vocab").get(token);
            if (id != null && id.canConvertToLong()) {
                return id.asLong();
            }
        } catch (IOException e) {
            throw new ModelLoadException("tokenizer: cannot parse its vocabulary: " + e.getMessage(), e);
        }
        return singleId(tokenizer, token);
    }

    private static byte[] tokenizerJson(Path dir) {
        Path json = dir.resolve("tokenizer.json");
        try {
            if (Files.isRegularFile(json)) {
                return Files.readAllBytes(json);
            }
            Path vocab = dir.resolve("vocab.json");
            Path merges = dir.resolve("merges.txt");
            if (!Files.isRegularFile(vocab) || !Files.isRegularFile(merges)) {
                throw new ModelLoadException("tokenizer: " + dir + " has neither tokenizer.json nor vocab.json + merges.txt");
            }
            return JSON.writeValueAsBytes(clipTokenizerJson(JSON.readTree(vocab.toFile()),
                    Files.readAllLines(merges, StandardCharsets.UTF_8)));
        } catch (IOException e) {
            throw new ModelLoadException("tokenizer: cannot read " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * The HuggingFace {@code tokenizer.json} equivalent of CLIP's slow tokenizer for the given vocabulary and merges:
     * NFC, whitespace folding and lower-casing; CLIP's split pattern then byte-level mapping; BPE with the
     * {@code </w>} end-of-word suffix.
     */
    static ObjectNode clipTokenizerJson(JsonNode vocab, List<String> mergeLines) {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String special : List.of(START, END)) {
            JsonNode id = vocab.get(special);
            if (id == null) {
                throw new ModelLoadException("tokenizer: vocab.json has no '" + special + "'");
            }
            added.addObject().put("id", id.asInt()).put("content", special).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", true).put("special", true);
        }
        ObjectNode normalizer = root.putObject("normalizer").put("type", "Sequence");
        ArrayNode norms = normalizer.putArray("normalizers");
        norms.addObject().put("type", "NFC");
        ObjectNode replace = norms.addObject().put("type", "Replace");
        replace.putObject("pattern").put("Regex", "\\s+");
        replace.put("content", " ");
        norms.addObject().put("type", "Lowercase");
        ObjectNode pre = root.putObject("pre_tokenizer").put("type", "Sequence");
        ArrayNode pres = pre.putArray("pretokenizers");
        ObjectNode split = pres.addObject().put("type", "Split");
        split.putObject("pattern").put("Regex", CLIP_PATTERN);
        split.put("behavior", "Removed").put("invert", true);
        pres.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", false);
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = root.putObject("model").put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", END).put("continuing_subword_prefix", "").put("end_of_word_suffix", "</w>")
                .put("fuse_unk", false).put("byte_fallback", false);
        model.set("vocab", vocab);
        ArrayNode merges = model.putArray("merges");
        for (String line : mergeLines) {
            String l = line.strip();
            if (!l.isEmpty() && !l.startsWith("#version")) {
                merges.add(l);
            }
        }
        return root;
    }


    private static String tokenText(JsonNode node, String fallback) {
        if (node == null || node.isNull()) {
            return fallback;
        }
        return node.isTextual() ? node.asText() : node.path("content").asText(fallback);
    }
}
