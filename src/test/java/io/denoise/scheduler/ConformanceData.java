package io.denoise.scheduler;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Reads the reference vectors: the ones bundled with the tests ({@code src/test/resources/conformance/<sub>}), plus
 * any in {@code $DENOISE_CONFORMANCE_DIR/<sub>} when that variable is set (more cases, never instead of these).
 */
final class ConformanceData {

    static final JsonMapper JSON = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    /** Environment variable naming a directory with more vectors, laid out like the bundled ones. */
    static final String EXTRA_DIR_ENV = "DENOISE_CONFORMANCE_DIR";

    private ConformanceData() {
    }

    /** One reference case: its file, and the name the test shows ({@code extra/} prefixed when not bundled). */
    record Case(String name, Path file) {
    }

    /** The bundled {@code *.json} files of {@code conformance/<sub>} on the test classpath, sorted. */
    static List<Path> bundled(String sub) throws IOException {
        URL url = ConformanceData.class.getResource("/conformance/" + sub);
        assertTrue(url != null, "bundled conformance vectors missing from the test classpath: conformance/" + sub);
        try {
            return jsonFiles(Path.of(url.toURI()));
        } catch (URISyntaxException e) {
            throw new IOException(e);
        }
    }

    /** The bundled cases, then those of {@code $DENOISE_CONFORMANCE_DIR/<sub>} if set; fails when there is none. */
    static List<Case> cases(String sub) throws IOException {
        List<Case> cases = new ArrayList<>();
        for (Path file : bundled(sub)) {
            cases.add(new Case(file.getFileName().toString(), file));
        }
        String extra = System.getenv(EXTRA_DIR_ENV);
        if (extra != null && !extra.isBlank()) {
            Path dir = Path.of(extra).resolve(sub);
            assertTrue(Files.isDirectory(dir), EXTRA_DIR_ENV + " has no " + sub + " directory: " + dir.toAbsolutePath());
            for (Path file : jsonFiles(dir)) {
                cases.add(new Case("extra/" + file.getFileName(), file));
            }
        }
        if (cases.isEmpty()) {
            fail("no reference cases (*.json) for " + sub);
        }
        return cases;
    }

    private static List<Path> jsonFiles(Path dir) throws IOException {
        try (Stream<Path> list = Files.list(dir)) {
            return list.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
        }
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
