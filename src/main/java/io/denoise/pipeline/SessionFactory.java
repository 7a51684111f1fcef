package io.denoise.pipeline;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * Creates ONNX Runtime sessions for model parts with the configured execution provider. With {@code auto}, the
 * first session that fails to initialise CUDA switches the factory to CPU for all later sessions and logs why,
 * once. Thread-safe.
 */
public final class SessionFactory {

    private static final Logger LOG = Logger.getLogger(SessionFactory.class.getName());

    /** Adds the CUDA execution provider to session options; a seam so CPU-only tests can simulate a GPU host. */
    @FunctionalInterface
    public interface CudaProvider {
        void add(OrtSession.SessionOptions options, int deviceId) throws OrtException;
    }

    private final OrtEnvironment env;
    private final RuntimeOptions options;
    private final CudaProvider cuda;
    private final AtomicInteger live = new AtomicInteger();
    private volatile boolean cudaUnavailable;
    private volatile String activeDevice;

    public SessionFactory(RuntimeOptions options) {
        this(options, OrtSession.SessionOptions::addCUDA);
    }

    public SessionFactory(RuntimeOptions options, CudaProvider cuda) {
        this.env = OrtEnvironment.getEnvironment();
        this.options = options;
        this.cuda = cuda;
    }

    public OrtEnvironment environment() {
        return env;
    }

    /** The device sessions actually run on: {@code cpu} or {@code cuda:N}; null before the first session. */
    public String activeDevice() {
        return activeDevice;
    }

    /** Opens a session for the model file; the caller owns it and gives it back with {@link #release}. */
    public OrtSession open(Path modelFile) throws OrtException {
        try (OrtSession.SessionOptions so = baseOptions()) {
            boolean wantCuda = options.device().equals("cuda") || (options.device().equals("auto") && !cudaUnavailable);
            if (wantCuda) {
                try {
                    cuda.add(so, options.cudaDeviceId());
                    OrtSession session = env.createSession(modelFile.toString(), so);
                    activeDevice = "cuda:" + options.cudaDeviceId();
                    live.incrementAndGet();
                    return session;
                } catch (OrtException | RuntimeException | LinkageError e) {
                    if (options.device().equals("cuda")) {
                        throw new OrtException("CUDA execution provider requested (device " + options.cudaDeviceId()
                                + ") but it could not be initialised: " + e.getMessage());
                    }
                    cudaUnavailable = true;
                    LOG.warning("CUDA execution provider unavailable (" + firstLine(e.getMessage())
                            + "); running ONNX Runtime on CPU");
                }
            }
        }
        try (OrtSession.SessionOptions so = baseOptions()) {
            OrtSession session = env.createSession(modelFile.toString(), so);
            activeDevice = "cpu";
            live.incrementAndGet();
            return session;
        }
    }

    /** Closes a session this factory opened. */
    public void release(OrtSession session) throws OrtException {
        live.decrementAndGet();
        session.close();
    }

    /** Sessions opened and not yet released: 0 once every model loaded through this factory is closed. */
    public int liveSessions() {
        return live.get();
    }

    private OrtSession.SessionOptions baseOptions() throws OrtException {
        OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        try {
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            if (options.intraOpThreads() > 0) {
                so.setIntraOpNumThreads(options.intraOpThreads());
            }
            so.addConfigEntry("session.intra_op.allow_spinning", options.allowSpinning() ? "1" : "0");
            return so;
        } catch (OrtException e) {
            so.close();
            throw e;
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "no detail";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
