package io.denoise.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * An S3-compatible server: S3Proxy on its jclouds {@code filesystem} backend, in its own JVM with the
 * classpath of {@code src/stack/s3proxy/pom.xml} (about 150 jars that must stay off the application's
 * classpath).
 *
 * <p>Buckets are directories under {@code <dir>/blobs}. Requests must be signed (AWS signature v2 or v4)
 * with the access key {@value #ACCESS_KEY} and secret {@value #SECRET_KEY}; buckets are addressed
 * path-style ({@code http://127.0.0.1:<port>/<bucket>/<key>}); any region name is accepted.
 */
final class S3Server extends StackComponent {

    /** The access key id and secret key S3Proxy accepts. */
    static final String ACCESS_KEY = "denoise";
    static final String SECRET_KEY = "denoise-secret";

    private static final Duration STOP_GRACE = Duration.ofSeconds(10);

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    /**
     * @param home where the classpath comes from
     * @param dir the server's directory (config and blobs)
     * @param log its log file
     * @param port the HTTP port
     */
    S3Server(StackHome home, Path dir, Path log, int port) {
        super("s3", "S3Proxy", "s3proxy", STOP_GRACE, home, dir, log, port);
    }

    /** @return the endpoint URL clients use */
    String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    /** Creates the blobs directory and writes the config. */
    @Override
    protected List<String> prepare(List<Path> classpath, Phases phases) {
        Path blobs = dir.resolve("blobs");
        try {
            Files.createDirectories(blobs);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create " + blobs, e);
        }
        Path properties = write("s3proxy.properties", String.join("\n",
                "s3proxy.endpoint=" + endpoint(),
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + ACCESS_KEY,
                "s3proxy.credential=" + SECRET_KEY,
                "s3proxy.ignore-unknown-headers=true",
                "jclouds.provider=filesystem",
                "jclouds.filesystem.basedir=" + blobs,
                ""));
        Path logConfig = write("logback.xml", """
                <configuration>
                  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
                    <encoder><pattern>[%d] %level %msg \\(%logger\\)%n</pattern></encoder>
                  </appender>
                  <root level="INFO"><appender-ref ref="OUT"/></root>
                  <logger name="org.gaul.shaded" level="WARN"/>
                </configuration>
                """);
        return home.javaCommand(List.of("-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                        "-XX:+ExitOnOutOfMemoryError", "-Dlogback.configurationFile=" + logConfig),
                classpath, "org.gaul.s3proxy.Main", "--properties", properties.toString());
    }

    @Override
    protected void awaitReady(ChildProcess child, Duration timeout) {
        child.awaitReady(timeout, this::answers);
    }

    /** Any HTTP answer from S3Proxy (an anonymous request gets 403) means it is up. */
    private boolean answers() throws IOException, InterruptedException {
        HttpResponse<Void> response = http.send(HttpRequest.newBuilder(URI.create(endpoint() + "/"))
                .timeout(Duration.ofSeconds(3)).GET().build(), HttpResponse.BodyHandlers.discarding());
        return response.headers().firstValue("x-amz-request-id").isPresent();
    }
}
