package io.denoise.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/** Free TCP ports on the loopback interface. */
final class Ports {

    private Ports() {
    }

    /**
     * @param requested a port, or 0 for any free one
     * @return {@code requested}, or a port that was free a moment ago
     */
    static int orFree(int requested) {
        if (requested != 0) {
            return requested;
        }
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("No free port", e);
        }
    }

    /**
     * Fails fast when something already listens on {@code port}, so a readiness check cannot mistake
     * another server for the component.
     *
     * @param port the port a component is about to listen on
     * @param component the component, for the message
     */
    static void requireFree(int port, String component) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
        } catch (IOException e) {
            throw new StackException("Port " + port + " for " + component + " is in use (" + e.getMessage()
                    + "); is another stack running? Pick another port or stop it.");
        }
    }
}
