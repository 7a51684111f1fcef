package io.denoise.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.denoise.pipeline.ClipTokenizer;
import io.denoise.pipeline.ModelLoadException;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code tokenize --model DIR TEXT...}: prints, per text, one JSON line {@code {"text", "ids", "truncated"}} with
 * the padded ids the model's text encoder gets (77 for Stable Diffusion), from the model's {@code tokenizer/} alone
 * (no ONNX session is opened).
 */
public final class TokenizeCommand {

    static final String USAGE = """
            usage: tokenize --model DIR TEXT [TEXT ...]
              prints one JSON line per text: {"text": ..., "ids": [...], "truncated": true|false}
            """;

    private static final ObjectMapper JSON = new ObjectMapper();

    private TokenizeCommand() {
    }

    /** Runs the command; returns the process exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Path model = null;
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--model") && i + 1 < args.length) {
                model = Path.of(args[++i]);
            } else {
                texts.add(args[i]);
            }
        }
        if (model == null || texts.isEmpty()) {
            err.print(USAGE);
            return 2;
        }
        try (ClipTokenizer tokenizer = ClipTokenizer.load(model.resolve("tokenizer"))) {
            for (String text : texts) {
                out.println(line(text, tokenizer.encode(text)));
            }
            return 0;
        } catch (ModelLoadException e) {
            err.println(e.getMessage());
            return 1;
        }
    }

    static String line(String text, ClipTokenizer.Tokens tokens) {
        ObjectNode node = JSON.createObjectNode();
        node.put("text", text);
        var ids = node.putArray("ids");
        for (long id : tokens.ids()) {
            ids.add(id);
        }
        node.put("truncated", tokens.droppedTokens() > 0);
        return node.toString();
    }
}
