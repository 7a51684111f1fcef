package io.denoise.deploy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The deployments carry no credential: compose takes every one from {@code docker/.env}, which
 * {@code docker/init-secrets} writes with random values, and k8s holds no Secret at all.
 */
class DeploymentFilesTest {

    /** An environment entry that holds a credential: a password, a secret, an access key or a root user's name. */
    private static final Pattern CREDENTIAL = Pattern.compile("^\\s*([A-Z_]*(PASSWORD|SECRET|SECRET_KEY|ACCESS_KEY|ROOT_USER)):\\s*(.*)$");
    private static final Pattern REQUIRED_VARIABLE = Pattern.compile("\\$\\{([A-Z0-9_]+):\\?[^}]+}");

    @Test
    void composeTakesEveryCredentialFromTheGeneratedEnvironmentFile() throws Exception {
        Set<String> used = new TreeSet<>();
        List<String> literal = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("docker/compose.yaml"))) {
            Matcher m = CREDENTIAL.matcher(line);
            if (!m.matches()) {
                continue;
            }
            Matcher variable = REQUIRED_VARIABLE.matcher(m.group(3));
            if (variable.matches()) {
                used.add(variable.group(1));
            } else {
                literal.add(line.trim());
            }
        }
        assertEquals(List.of(), literal, "credentials written into compose.yaml");
        assertEquals(Set.of("DENOISE_DB_PASSWORD", "DENOISE_S3_ROOT_USER", "DENOISE_S3_ROOT_PASSWORD",
                "DENOISE_S3_APP_ACCESS_KEY", "DENOISE_S3_APP_SECRET_KEY"), used);
        // the application signs in to the store as its own user, never as the root one
        String compose = Files.readString(Path.of("docker/compose.yaml"));
        assertTrue(compose.contains("DENOISE_STORAGE_ACCESS_KEY: ${DENOISE_S3_APP_ACCESS_KEY:?"), compose);
        assertTrue(Files.readString(Path.of(".gitignore")).lines().anyMatch("/docker/.env"::equals), "docker/.env is ignored");
    }

    @Test
    void initSecretsWritesEveryVariableComposeNeedsOnceWithRandomValuesOnlyTheOwnerReads(@TempDir Path dir) throws Exception {
        Path env = dir.resolve(".env");
        run(env, Map.of());
        Map<String, String> first = read(env);
        assertEquals(Set.of("DENOISE_DB_PASSWORD", "DENOISE_S3_ROOT_USER", "DENOISE_S3_ROOT_PASSWORD",
                "DENOISE_S3_APP_ACCESS_KEY", "DENOISE_S3_APP_SECRET_KEY"), first.keySet());
        for (String name : List.of("DENOISE_DB_PASSWORD", "DENOISE_S3_ROOT_PASSWORD", "DENOISE_S3_APP_SECRET_KEY")) {
            // 24 random bytes: 32 characters of base64url
            assertTrue(first.get(name).matches("[A-Za-z0-9_-]{32}"), name + "=" + first.get(name));
        }
        assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE), Files.getPosixFilePermissions(env));
        // a second run keeps the file; another file gets other values
        run(env, Map.of());
        assertEquals(first, read(env));
        Path other = dir.resolve("other.env");
        run(other, Map.of("DENOISE_DB_PASSWORD", "mine"));
        assertEquals("mine", read(other).get("DENOISE_DB_PASSWORD"), "a value from the environment is used as given");
        assertTrue(!read(other).get("DENOISE_S3_APP_SECRET_KEY").equals(first.get("DENOISE_S3_APP_SECRET_KEY")));
    }

    @Test
    void kubernetesManifestsHoldNoSecret() throws IOException {
        try (Stream<Path> files = Files.list(Path.of("k8s"))) {
            List<Path> manifests = files.filter(p -> p.toString().endsWith(".yaml")).toList();
            assertTrue(manifests.size() >= 5, manifests.toString());
            for (Path manifest : manifests) {
                String text = Files.readString(manifest);
                assertTrue(!text.contains("kind: Secret") && !text.contains("stringData"), manifest + " defines a Secret");
                for (String line : text.lines().toList()) {
                    Matcher m = CREDENTIAL.matcher(line);
                    assertTrue(!m.matches(), manifest + " holds a credential: " + line.trim());
                }
            }
            // the pods still read their credentials, from the Secret created outside this directory
            assertTrue(Files.readString(Path.of("k8s/api.yaml")).contains("secretRef: {name: denoise}"));
        }
    }

    private static void run(Path env, Map<String, String> environment) throws Exception {
        ProcessBuilder builder = new ProcessBuilder("sh", "docker/init-secrets").redirectErrorStream(true);
        builder.environment().keySet().removeIf(k -> k.startsWith("DENOISE_"));
        builder.environment().putAll(environment);
        builder.environment().put("DENOISE_ENV_FILE", env.toString());
        Process p = builder.start();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), output);
    }

    private static Map<String, String> read(Path env) throws IOException {
        return Files.readAllLines(env).stream().filter(l -> !l.startsWith("#") && l.contains("="))
                .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1)));
    }
}
