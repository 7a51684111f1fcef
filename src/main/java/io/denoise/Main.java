package io.denoise;

import io.denoise.cli.GenerateCommand;
import io.denoise.cli.KeysCommand;
import io.denoise.cli.TokenizeCommand;
import io.denoise.messaging.Topics;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;

import java.util.Arrays;

/**
 * Entry point. {@code generate …} runs the pipeline from the command line without starting the service,
 * {@code tokenize …} prints the token ids a model's text encoder gets for some texts, {@code keys …} manages API keys in
 * the configured database; anything else starts the service in the roles its configuration names.
 */
@QuarkusMain
public final class Main {

    public static void main(String... args) throws Exception {
        if (args.length > 0 && args[0].equals("generate")) {
            System.exit(GenerateCommand.run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err));
        }
        if (args.length > 0 && args[0].equals("tokenize")) {
            System.exit(TokenizeCommand.run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err));
        }
        if (args.length > 0 && args[0].equals("keys")) {
            // the application without its roles: no HTTP port, no consumer, no model; only the database
            System.setProperty("denoise.roles", "cli");
            System.setProperty("quarkus.http.host-enabled", "false");
            // the management interface cannot be turned off at run time: a free loopback port keeps it out of the way
            System.setProperty("quarkus.management.host", "127.0.0.1");
            System.setProperty("quarkus.management.port", "0");
            // stdout carries only what the command prints (a script takes the key from it); logs go to stderr
            System.setProperty("quarkus.log.level", "WARN");
            System.setProperty("quarkus.log.console.stderr", "true");
            System.setProperty("quarkus.banner.enabled", "false");
            System.setProperty("mp.messaging.incoming." + Topics.CONTROL_IN + ".enabled", "false");
            System.setProperty("mp.messaging.incoming." + Topics.EVENTS_IN + ".enabled", "false");
            Quarkus.run(KeysCommand.class, Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        Quarkus.run(args);
    }
}
