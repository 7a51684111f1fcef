package io.denoise.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.stream.Stream;

/**
 * The few POSIX facts the stack needs: whether we are root, how to drop to an unprivileged user
 * (PostgreSQL refuses to run as root), how to detach a child from the terminal's signals, and what
 * {@code /proc} says about a process (its session, whether it still runs).
 */
final class Posix {

    private Posix() {
    }

    /** A local account: name and numeric ids. */
    record User(String name, int uid, int gid) {
    }

    /** @return whether this process runs with user id 0 */
    static boolean isRoot() {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).intValue() == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    /** @return the account that runs PostgreSQL when we are root: {@code nobody} */
    static User unprivilegedUser() {
        try (Stream<String> lines = Files.lines(Path.of("/etc/passwd"))) {
            return lines.map(line -> line.split(":"))
                    .filter(f -> f.length > 3 && f[0].equals("nobody"))
                    .findFirst()
                    .map(f -> new User(f[0], Integer.parseInt(f[2]), Integer.parseInt(f[3])))
                    .orElseThrow(() -> new StackException("No 'nobody' account in /etc/passwd"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * @param user the account to switch to
     * @return a command prefix that runs the rest of the command line as {@code user}
     */
    static List<String> runAs(User user) {
        if (onPath("setpriv")) {
            return List.of("setpriv", "--reuid=" + user.uid(), "--regid=" + user.gid(), "--clear-groups");
        }
        if (onPath("runuser")) {
            return List.of("runuser", "-u", user.name(), "--");
        }
        throw new StackException("Running as root, but neither setpriv nor runuser is installed");
    }

    /**
     * @return a command prefix that starts the rest of the command line in a new session, so that a
     *     Ctrl-C in the terminal reaches the launcher only and it can stop children in order
     */
    static List<String> newSession() {
        return onPath("setsid") ? List.of("setsid") : List.of();
    }

    /**
     * @param path a directory that may not exist yet
     * @return whether another user can traverse every existing directory on the way to {@code path}
     */
    static boolean reachableByOthers(Path path) {
        List<Path> chain = new ArrayList<>();
        for (Path p = path.toAbsolutePath().normalize(); p != null; p = p.getParent()) {
            chain.add(p);
        }
        try {
            for (Path p : chain) {
                if (Files.exists(p) && !Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_EXECUTE)) {
                    return false;
                }
            }
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Gives a directory tree to {@code user}.
     *
     * @param root the tree's top
     * @param user the new owner
     */
    static void chown(Path root, User user) {
        try (Stream<Path> tree = Files.walk(root)) {
            for (Path p : (Iterable<Path>) tree::iterator) {
                Files.setAttribute(p, "unix:uid", user.uid(), LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(p, "unix:gid", user.gid(), LinkOption.NOFOLLOW_LINKS);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot chown " + root, e);
        }
    }

    /**
     * @param command a program name
     * @return whether it is found on {@code PATH}
     */
    static boolean onPath(String command) {
        String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return false;
    }

    /**
     * @param pid a process id
     * @return the id of the process's session, empty when the process is gone or {@code /proc} cannot tell
     */
    static OptionalLong sessionOf(long pid) {
        String[] fields = statFields(pid);
        return fields.length > 3 ? OptionalLong.of(Long.parseLong(fields[3])) : OptionalLong.empty();
    }

    /**
     * @param session a session id
     * @return the processes of that session that still run (zombies left out)
     */
    static List<Long> sessionMembers(long session) {
        List<Long> members = new ArrayList<>();
        try (Stream<Path> entries = Files.list(Path.of("/proc"))) {
            for (Path entry : (Iterable<Path>) entries::iterator) {
                String name = entry.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                long pid = Long.parseLong(name);
                String[] fields = statFields(pid);
                if (fields.length > 3 && !fields[0].equals("Z") && Long.parseLong(fields[3]) == session) {
                    members.add(pid);
                }
            }
        } catch (IOException | UncheckedIOException e) {
            return members;
        }
        return members;
    }

    /**
     * @param pid a process id
     * @return whether the process exists and has not exited (a zombie, exited but not yet reaped, does not run)
     */
    static boolean isRunning(long pid) {
        String[] fields = statFields(pid);
        return fields.length > 0 && !fields[0].equals("Z") && !fields[0].equals("X");
    }

    /**
     * @param pid a process id
     * @return the process's command name ({@code comm}), empty when it is gone
     */
    static String commandName(long pid) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(pid), "comm")).strip();
        } catch (IOException e) {
            return "";
        }
    }

    /** @return the fields of {@code /proc/<pid>/stat} after the command name: state, ppid, pgrp, session, ...; empty when gone */
    private static String[] statFields(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        } catch (IOException | RuntimeException e) {
            return new String[0];
        }
    }
}
