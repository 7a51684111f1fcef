package io.denoise.scheduler;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Locates and reads the shared reference vectors. */
final class ConformanceData {

    static final JsonMapper JSON = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    private ConformanceData() {
    }

    /**
     * {@code $DENOISE_CONFORMANCE_DIR/<sub>}, else the {@code denoise.conformance.dir} system property (set by the
     * build), else {@code ../shared/conformance}.
     */
    static Path directory(String sub) {
        String env = System.getenv("DENOISE_CONFORMANCE_DIR");
        String base = env != null && !env.isBlank()
                ? env
                : System.getProperty("denoise.conformance.dir", "../shared/conformance");
        return Path.of(base).resolve(sub);
    }

    /** Every {@code *.json} file of the directory, sorted; fails when there is none. */
    static List<Path> jsonFiles(String sub) throws IOException {
        Path dir = directory(sub);
        assertTrue(Files.isDirectory(dir), "conformance directory missing: " + dir.toAbsolutePath());
        List<Path> files;
        try (Stream<Path> list = Files.list(dir)) {
            files = list.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
        }
        if (files.isEmpty()) {
            fail("no reference cases (*.json) in " + dir.toAbsolutePath());
        }
        return files;
    }

    static JsonNode read(Path file) throws IOException {
        return JSON.readTree(file.toFile());
    }

    /** A nested list of numbers, flattened row-major, each value rounded to float32. */
    static float[] tensor(JsonNode node) {
        List<Double> values = new ArrayList<>();
        flatten(node, values);
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i).floatValue();
        }
        return out;
    }

    /** A flat list of numbers. */
    static double[] doubles(JsonNode node) {
        double[] out = new double[node.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = node.get(i).asDouble();
        }
        return out;
    }

    private static void flatten(JsonNode node, List<Double> into) {
        if (node.isArray()) {
            node.forEach(child -> flatten(child, into));
        } else {
            into.add(node.asDouble());
        }
    }
}
