package io.denoise.stack;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where the stack's Maven descriptors ({@code src/stack/<component>/pom.xml}), resolved classpaths
 * ({@code target/stack/<component>.classpath}) and caches live, and how Java children are launched.
 *
 * <p>A component's classpath is resolved with the project's Maven wrapper on first use and cached until
 * its pom changes, so the component's jars never meet the application's classpath.
 */
final class StackHome {

    /** System property: the project directory (the one holding {@code mvnw} and {@code src/stack}). */
    static final String PROJECT_DIR = "denoise.stack.project-dir";
    /** System property: the directory for unpacked binaries (PostgreSQL) and resolved classpaths. */
    static final String CACHE_DIR = "denoise.stack.cache-dir";

    private static final String DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.9.0";
    private static final Duration RESOLVE_TIMEOUT = Duration.ofMinutes(10);

    private final Path projectDir;

    private StackHome(Path projectDir) {
        this.projectDir = projectDir;
    }

    /**
     * @return the stack home of the project found from {@value #PROJECT_DIR} or the working directory upwards
     */
    static StackHome locate() {
        String configured = System.getProperty(PROJECT_DIR);
        if (configured != null) {
            return new StackHome(Path.of(configured).toAbsolutePath().normalize());
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isDirectory(dir.resolve("src/stack")) && Files.exists(dir.resolve("mvnw"))) {
                return new StackHome(dir);
            }
        }
        throw new StackException("Cannot find the project directory (with mvnw and src/stack) from "
                + Path.of("").toAbsolutePath() + "; set -D" + PROJECT_DIR);
    }

    /** @return the project directory */
    Path projectDir() {
        return projectDir;
    }

    /** @return {@code target/stack}, for resolved classpaths and the watchdog class */
    Path workDir() {
        return projectDir.resolve("target/stack");
    }

    /**
     * @return the cache for unpacked binaries and resolved classpaths: {@value #CACHE_DIR}, else
     *     {@code ~/.cache/denoise-stack} (or under {@code $XDG_CACHE_HOME}),
     *     or {@code /var/tmp/denoise-stack} for root (whose home the unprivileged PostgreSQL user cannot read)
     */
    Path cacheDir() {
        String configured = System.getProperty(CACHE_DIR);
        if (configured != null) {
            return Path.of(configured);
        }
        if (Posix.isRoot()) {
            return Path.of("/var/tmp/denoise-stack");
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("denoise-stack");
    }

    /**
     * Resolves (or reads back) a component's runtime classpath. The result is kept in
     * {@code target/stack/<component>.classpath} (reused while newer than the pom) and, keyed by the pom's
     * content, in the cache directory, so a fresh checkout on the same machine skips Maven too.
     *
     * @param component the directory name under {@code src/stack}
     * @return the jars, in Maven's order
     */
    List<Path> classpath(String component) {
        Path pom = projectDir.resolve("src/stack").resolve(component).resolve("pom.xml");
        Path local = workDir().resolve(component + ".classpath");
        try {
            if (!Files.exists(pom)) {
                throw new StackException("Missing " + pom);
            }
            Path shared = cacheDir().resolve("classpath")
                    .resolve(component + "-" + shortHash(Files.readAllBytes(pom)) + ".classpath");
            Optional<List<Path>> reusable = Files.exists(local)
                    && Files.getLastModifiedTime(local).compareTo(Files.getLastModifiedTime(pom)) >= 0
                    ? readClasspath(local) : Optional.empty();
            if (reusable.isEmpty()) {
                reusable = readClasspath(shared);
            }
            if (reusable.isEmpty()) {
                resolve(component, pom, shared);
                reusable = readClasspath(shared);
            }
            List<Path> jars = reusable.orElseThrow(() -> new StackException("Maven resolved no jars for " + component));
            String text = String.join(File.pathSeparator, jars.stream().map(Path::toString).toList());
            for (Path file : List.of(local, shared)) {
                if (!readClasspath(file).equals(reusable)) {
                    writeAtomically(file, text);
                }
            }
            return jars;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot resolve the classpath of " + component, e);
        }
    }

    /** Runs {@code dependency:build-classpath} on the component's pom, writing {@code target}. */
    private void resolve(String component, Path pom, Path target) throws IOException {
        Files.createDirectories(target.getParent());
        Path partial = Files.createTempFile(target.getParent(), component, ".tmp");
        List<String> command = new ArrayList<>(mavenWrapper());
        command.addAll(List.of("-q", "-B", "-f", pom.toString(), DEPENDENCY_PLUGIN + ":build-classpath",
                "-Dmdep.outputFile=" + partial, "-Dmdep.pathSeparator=" + File.pathSeparator));
        String repoLocal = System.getProperty("maven.repo.local");
        if (repoLocal != null) {
            command.add("-Dmaven.repo.local=" + repoLocal);
        }
        Files.createDirectories(workDir());
        try {
            ChildProcess.run("Maven resolution of " + component, command, workDir().resolve(component + "-resolve.log"),
                    Map.of("JAVA_HOME", System.getProperty("java.home")), RESOLVE_TIMEOUT);
            moveAtomically(partial, target);
        } finally {
            Files.deleteIfExists(partial);
        }
    }

    /** @return the jars listed in {@code file}, if it exists and they all do */
    private static Optional<List<Path>> readClasspath(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        List<Path> jars = Arrays.stream(Files.readString(file).strip().split(File.pathSeparator))
                .filter(s -> !s.isBlank())
                .map(Path::of)
                .toList();
        return !jars.isEmpty() && jars.stream().allMatch(Files::isRegularFile) ? Optional.of(jars) : Optional.empty();
    }

    /**
     * Builds the command line of a Java child that runs under {@link Watched}, so it exits when this
     * JVM disappears.
     *
     * @param jvmOptions options such as {@code -Xmx}
     * @param classpath the component's jars
     * @param mainClass the component's main class
     * @param args its arguments
     * @return the command line, using this JVM's {@code java}
     */
    List<String> javaCommand(List<String> jvmOptions, List<Path> classpath, String mainClass, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add("-D" + Watched.PARENT_PID + "=" + ProcessHandle.current().pid());
        command.add("-cp");
        StringBuilder cp = new StringBuilder(watchdogClasses().toString());
        classpath.forEach(jar -> cp.append(File.pathSeparatorChar).append(jar));
        command.add(cp.toString());
        command.add(Watched.class.getName());
        command.add(mainClass);
        command.addAll(Arrays.asList(args));
        return command;
    }

    /** Copies {@link Watched}'s class file alone into {@code target/stack/watchdog} and returns that root. */
    private Path watchdogClasses() {
        Path root = workDir().resolve("watchdog");
        Path file = root.resolve(Watched.class.getName().replace('.', '/') + ".class");
        try {
            byte[] bytes = WatchedClassFile.BYTES;
            if (!Files.exists(file) || !Arrays.equals(Files.readAllBytes(file), bytes)) {
                Files.createDirectories(file.getParent());
                Path partial = Files.createTempFile(file.getParent(), "Watched", ".tmp");
                Files.write(partial, bytes);
                moveAtomically(partial, file);
            }
            return root;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write " + file, e);
        }
    }

    /** {@link Watched}'s class file, read once per JVM (a concurrent rebuild may delete it later). */
    private static final class WatchedClassFile {
        static final byte[] BYTES = read();

        private static byte[] read() {
            try (InputStream in = Watched.class.getResourceAsStream(Watched.class.getSimpleName() + ".class")) {
                if (in == null) {
                    throw new StackException("Cannot read the class file of " + Watched.class.getName());
                }
                return in.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private List<String> mavenWrapper() {
        Path wrapper = projectDir.resolve("mvnw");
        return Files.isExecutable(wrapper) ? List.of(wrapper.toString()) : List.of("sh", wrapper.toString());
    }

    private static void writeAtomically(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Path partial = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp");
        Files.writeString(partial, text);
        moveAtomically(partial, file);
    }

    /**
     * @param bytes any content
     * @return the first 16 hex digits of its SHA-256
     */
    static String shortHash(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Renames {@code from} to {@code to}, replacing it, atomically where the file system allows.
     *
     * @param from the finished file
     * @param to its final name
     * @throws IOException if the move fails
     */
    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
