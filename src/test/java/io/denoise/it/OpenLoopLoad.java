package io.denoise.it;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * An open-loop load generator for one HTTP/1.1 request, light enough to share two cores with the server it
 * measures: pre-encoded requests over a fixed set of keep-alive connections, one blocking thread each. Request
 * {@code i} is due at {@code start + i / rate}; a connection takes the next due request when it is free, so when the
 * server falls behind, the wait for a connection counts in the latency (measured from when the request was due,
 * not from when it was sent: no coordinated omission).
 */
final class OpenLoopLoad {

    /** What a run measured: the latency of each request from when it was due, and the answers by status. */
    record Result(List<Double> latenciesMs, Map<String, Integer> answers, long firstDueNanos, long lastDoneNanos) {

        int count(String status) {
            return answers.getOrDefault(status, 0);
        }
    }

    private static final int READ_TIMEOUT_MS = 60_000;

    private final URI target;
    private final List<byte[]> requests;
    private final int connections;

    /**
     * @param authorizations {@code Authorization} header values, taken in turn: request i uses the (i mod n)th
     * @param connections    the most requests in flight at once
     */
    OpenLoopLoad(URI target, List<String> authorizations, String jsonBody, int connections) {
        this.target = target;
        this.connections = connections;
        byte[] body = jsonBody.getBytes(StandardCharsets.UTF_8);
        this.requests = authorizations.stream().map(auth -> {
            String head = "POST " + target.getRawPath() + " HTTP/1.1\r\nHost: " + target.getHost() + ":" + target.getPort()
                    + "\r\nAuthorization: " + auth + "\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length + "\r\n\r\n";
            byte[] h = head.getBytes(StandardCharsets.US_ASCII);
            byte[] all = new byte[h.length + body.length];
            System.arraycopy(h, 0, all, 0, h.length);
            System.arraycopy(body, 0, all, h.length, body.length);
            return all;
        }).toList();
    }

    /** Offers {@code total} requests at {@code rate} per second; those from {@code measureFrom} on are measured. */
    Result run(int rate, int total, int measureFrom) throws InterruptedException {
        long interval = TimeUnit.SECONDS.toNanos(1) / rate;
        long begin = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
        AtomicInteger next = new AtomicInteger();
        double[] latencies = new double[total];
        String[] statuses = new String[total];
        long[] lastDone = new long[connections];
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < connections; c++) {
            int slot = c;
            Thread thread = new Thread(() -> {
                Connection connection = null;
                int i;
                while ((i = next.getAndIncrement()) < total) {
                    long due = begin + i * interval;
                    long wait;
                    while ((wait = due - System.nanoTime()) > 0) {
                        LockSupport.parkNanos(wait);
                    }
                    String status;
                    try {
                        if (connection == null) {
                            connection = new Connection(target);
                        }
                        status = connection.exchange(requests.get(i % requests.size()));
                        if (!connection.open) {
                            connection.close();
                            connection = null;
                        }
                    } catch (IOException e) {
                        status = e.getClass().getSimpleName();
                        if (connection != null) {
                            connection.close();
                        }
                        connection = null;
                    }
                    long now = System.nanoTime();
                    latencies[i] = (now - due) / 1e6;
                    statuses[i] = status;
                    if (i >= measureFrom) {
                        lastDone[slot] = Math.max(lastDone[slot], now);
                    }
                }
                if (connection != null) {
                    connection.close();
                }
            }, "load-" + c);
            thread.start();
            threads.add(thread);
        }
        for (Thread t : threads) {
            t.join();
        }
        List<Double> measured = new ArrayList<>();
        Map<String, Integer> answers = new TreeMap<>();
        for (int i = measureFrom; i < total; i++) {
            measured.add(latencies[i]);
            answers.merge(statuses[i], 1, Integer::sum);
        }
        long end = 0;
        for (long t : lastDone) {
            end = Math.max(end, t);
        }
        return new Result(measured, answers, begin + measureFrom * interval, end);
    }

    /** One keep-alive connection: writes a request, reads the status line, the headers and the body. */
    private static final class Connection {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;
        private boolean open = true;

        Connection(URI target) throws IOException {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(READ_TIMEOUT_MS);
            socket.connect(new InetSocketAddress(target.getHost(), target.getPort()), 5000);
            in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
            out = socket.getOutputStream();
        }

        /** The response's status code, its body read and dropped. */
        String exchange(byte[] request) throws IOException {
            out.write(request);
            out.flush();
            String statusLine = line();
            String[] parts = statusLine.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
                throw new IOException("not an HTTP response: " + statusLine);
            }
            long length = -1;
            boolean chunked = false;
            for (String header = line(); !header.isEmpty(); header = line()) {
                String lower = header.toLowerCase(Locale.ROOT);
                if (lower.startsWith("content-length:")) {
                    length = Long.parseLong(lower.substring(15).trim());
                } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                    chunked = true;
                } else if (lower.startsWith("connection:") && lower.contains("close")) {
                    open = false;
                }
            }
            if (chunked) {
                for (long size = Long.parseLong(line().split(";")[0].trim(), 16); size > 0;
                     size = Long.parseLong(line().split(";")[0].trim(), 16)) {
                    skip(size);
                    line();
                }
                while (!line().isEmpty()) {
                    // trailers
                }
            } else if (length >= 0) {
                skip(length);
            } else {
                open = false;
            }
            return parts[1];
        }

        private String line() throws IOException {
            StringBuilder s = new StringBuilder(64);
            int b;
            while ((b = in.read()) != '\n') {
                if (b < 0) {
                    throw new IOException("connection closed");
                }
                if (b != '\r') {
                    s.append((char) b);
                }
            }
            return s.toString();
        }

        private void skip(long n) throws IOException {
            while (n > 0) {
                long skipped = in.skip(n);
                if (skipped <= 0) {
                    if (in.read() < 0) {
                        throw new IOException("connection closed");
                    }
                    skipped = 1;
                }
                n -= skipped;
            }
        }

        void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing after a failure: nothing to do
            }
        }
    }
}
