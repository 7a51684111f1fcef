package io.denoise.stack;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Points Quarkus tests at a real local stack: {@code @QuarkusTestResource(StackTestResource.class)} (or
 * {@code @WithTestResource}) on a test class.
 *
 * <p>One stack serves the whole test JVM: it starts on first use (fresh data under
 * {@code target/stack-test/shared}, free ports) and is stopped by the JVM shutdown hook, not by
 * {@link #stop()}, so every test class and Quarkus restart reuses it. Because Quarkus may load this class
 * in several class loaders, the running stack's configuration is published in a system property, which
 * every copy reads first. Set {@code -Ddenoise.stack.test.keep-data=true} to keep the previous run's data.
 */
public class StackTestResource implements QuarkusTestResourceLifecycleManager {

    /** System property holding the shared stack's configuration, one {@code key=value} per line. */
    static final String SHARED_CONFIG = "denoise.stack.test.config";

    private static LocalStack stack;

    @Override
    public Map<String, String> start() {
        return sharedConfig();
    }

    @Override
    public void stop() {
        // Shared by all test classes of this JVM; the shutdown hook stops it.
    }

    /** @return the shared stack's {@link LocalStack#quarkusConfig()}, starting the stack if this JVM has none */
    static synchronized Map<String, String> sharedConfig() {
        String published = System.getProperty(SHARED_CONFIG);
        if (published == null) {
            Path dataDir = Path.of("target/stack-test/shared");
            LocalStack.Builder builder = LocalStack.builder().dataDir(dataDir);
            if (!Boolean.getBoolean("denoise.stack.test.keep-data")) {
                ChildProcess.deleteTree(StackHome.locate().projectDir().resolve(dataDir));
            }
            stack = builder.build().start();
            StringBuilder text = new StringBuilder();
            stack.quarkusConfig().forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
            published = text.toString();
            System.setProperty(SHARED_CONFIG, published);
        }
        Map<String, String> config = new LinkedHashMap<>();
        for (String line : published.split("\n")) {
            String[] kv = line.split("=", 2);
            config.put(kv[0], kv[1]);
        }
        return config;
    }
}
