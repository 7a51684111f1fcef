package io.denoise.auth;

import io.denoise.Roles;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;
import java.util.UUID;

/**
 * The local run's key: on the first start of the API role a key for {@link AuthConfig#localTenant()} is created and
 * written to {@link AuthConfig#localKeyFile()} (mode 0600); later starts register the file's key again if the
 * database lost it, so a reset stack keeps working with the key a user already has.
 */
@ApplicationScoped
public class LocalKey {

    private static final Logger LOG = Logger.getLogger(LocalKey.class);
    private static final Set<Scope> SCOPES = EnumSet.of(Scope.JOBS, Scope.ADMIN);

    @Inject
    Roles roles;

    @Inject
    AuthConfig config;

    @Inject
    ApiKeys keys;

    void start(@Observes StartupEvent event) {
        if (roles.api() && config.localKeyFile().isPresent()) {
            Path file = config.localKeyFile().get();
            try {
                ensure(file);
            } catch (RuntimeException e) {
                // the database is down at start, say: the service starts anyway and the key follows once it answers
                LOG.warnf("cannot keep the local API key in %s yet (%s); retrying every 5 s", file, e.toString());
                Thread retry = new Thread(() -> retry(file), "local-key");
                retry.setDaemon(true);
                retry.start();
            }
        }
    }

    private void retry(Path file) {
        while (true) {
            try {
                Thread.sleep(5000);
                ensure(file);
                return;
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.debugf("local API key not kept yet: %s", e.toString());
            }
        }
    }

    /** Makes sure {@code file} holds a key of the local tenant that the database knows; returns the key. */
    public String ensure(Path file) {
        try {
            if (Files.exists(file)) {
                String key = Files.readString(file, StandardCharsets.UTF_8).trim();
                keys.register(config.localTenant(), key, SCOPES);
                LOG.infof("API key of tenant %s: %s", config.localTenant(), file.toAbsolutePath());
                return key;
            }
            ApiKeys.Created created = keys.create(config.localTenant(), SCOPES);
            if (!write(file, created.key())) {
                // another replica on the same directory wrote its key first: use that one
                keys.revoke(created.info().id());
                return ensure(file);
            }
            LOG.infof("created an API key for tenant %s in %s (Authorization: Bearer $(cat %s))", config.localTenant(),
                    file.toAbsolutePath(), file);
            return created.key();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep the local API key in " + file, e);
        }
    }

    /** Writes the key readable by its owner only; false when another process wrote the file meanwhile. */
    private static boolean write(Path file, String key) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) {
            Files.createDirectories(dir);
        }
        Path partial = file.resolveSibling(file.getFileName() + "." + UUID.randomUUID() + ".partial");
        try {
            Files.createFile(partial, PosixFilePermissions.asFileAttribute(
                    EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE)));
        } catch (UnsupportedOperationException e) {
            Files.createFile(partial);
        }
        try {
            Files.writeString(partial, key + "\n", StandardCharsets.UTF_8);
            Files.move(partial, file);
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } finally {
            Files.deleteIfExists(partial);
        }
    }
}
