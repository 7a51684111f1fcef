package io.denoise.cli;

import io.denoise.auth.ApiKeys;
import io.denoise.auth.Scope;
import io.denoise.jobs.Priority;
import io.denoise.recipe.InvalidRequestException;
import io.quarkus.runtime.QuarkusApplication;
import jakarta.inject.Inject;

import java.io.PrintStream;
import java.util.EnumSet;
import java.util.Set;
import java.util.UUID;

/**
 * {@code keys create --tenant NAME [--admin]} (prints the key, the only time it is shown), {@code keys list} and
 * {@code keys revoke ID}, against the database the configuration names. Runs the application without its roles:
 * no HTTP port, no Kafka consumer, no model.
 */
public class KeysCommand implements QuarkusApplication {

    static final String USAGE = """
            usage: keys create --tenant NAME [--admin] [--max-priority low|normal|high]
                                                         create a key (printed once) for a tenant; --admin may manage
                                                         keys; its jobs may ask for at most --max-priority (normal)
                   keys list                             every key: id, tenant, prefix, scopes, max priority, created, revoked
                   keys revoke ID                        revoke a key (refused everywhere within seconds)
            """;

    @Inject
    ApiKeys keys;

    private final PrintStream out;
    private final PrintStream err;

    public KeysCommand() {
        this(null, System.out, System.err);
    }

    /** A command on {@code keys} that writes to {@code out} and {@code err}. */
    public KeysCommand(ApiKeys keys, PrintStream out, PrintStream err) {
        this.keys = keys;
        this.out = out;
        this.err = err;
    }

    @Override
    public int run(String... args) {
        try {
            return execute(args);
        } catch (InvalidRequestException e) {
            err.println(e.field() + " " + e.rule());
            return 2;
        }
    }

    int execute(String... args) {
        if (args.length == 0) {
            err.print(USAGE);
            return 2;
        }
        switch (args[0]) {
            case "create" -> {
                String tenant = null;
                boolean admin = false;
                Priority maxPriority = Priority.NORMAL;
                for (int i = 1; i < args.length; i++) {
                    if (args[i].equals("--tenant") && i + 1 < args.length) {
                        tenant = args[++i];
                    } else if (args[i].equals("--admin")) {
                        admin = true;
                    } else if (args[i].equals("--max-priority") && i + 1 < args.length
                            && Priority.parse(args[i + 1]).isPresent()) {
                        maxPriority = Priority.parse(args[++i]).orElseThrow();
                    } else {
                        err.print("unknown option " + args[i] + "\n" + USAGE);
                        return 2;
                    }
                }
                if (tenant == null) {
                    err.print("--tenant is required\n" + USAGE);
                    return 2;
                }
                Set<Scope> scopes = admin ? EnumSet.of(Scope.JOBS, Scope.ADMIN) : EnumSet.of(Scope.JOBS);
                ApiKeys.Created created = keys.create(tenant, scopes, maxPriority);
                err.println("key " + created.info().id() + " for tenant " + tenant + " (" + String.join(",",
                        created.info().scopes()) + "); it is not shown again:");
                out.println(created.key());
                return 0;
            }
            case "list" -> {
                out.println("id\ttenant\tprefix\tscopes\tmax-priority\tcreated\trevoked");
                for (ApiKeys.KeyInfo k : keys.list()) {
                    out.println(k.id() + "\t" + k.tenant() + "\t" + k.prefix() + "\t" + String.join(",", k.scopes()) + "\t"
                            + k.maxPriority() + "\t" + k.createdAt() + "\t" + (k.revokedAt() == null ? "-" : k.revokedAt()));
                }
                return 0;
            }
            case "revoke" -> {
                if (args.length != 2) {
                    err.print(USAGE);
                    return 2;
                }
                UUID id;
                try {
                    id = UUID.fromString(args[1]);
                } catch (IllegalArgumentException e) {
                    err.println("not a key id: " + args[1]);
                    return 2;
                }
                return keys.revoke(id).map(k -> {
                    out.println("revoked " + k.id() + " (tenant " + k.tenant() + ")");
                    return 0;
                }).orElseGet(() -> {
                    err.println("no key " + id);
                    return 1;
                });
            }
            default -> {
                err.print(USAGE);
                return 2;
            }
        }
    }
}
