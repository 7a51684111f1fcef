package io.denoise.pipeline;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.denoise.recipe.ModelProfile;
import io.denoise.scheduler.Scheduler;
import io.denoise.scheduler.SchedulerConfig;
import io.denoise.scheduler.SchedulerKind;
import io.denoise.scheduler.Schedulers;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A Stable Diffusion model loaded from a directory in the diffusers ONNX export layout: {@code model_index.json},
 * {@code scheduler/scheduler_config.json}, {@code tokenizer/}, {@code text_encoder/}, {@code unet/},
 * {@code vae_decoder/}, optionally {@code vae_encoder/} (without it image-to-image is refused) and Denoise's
 * {@code denoise.json}. Every file and tensor contract is checked here, so a bad model fails at load, never
 * mid-job. Owns one session per part, shared by all generations; thread-safe; {@link #close()} closes every part
 * exactly once, in reverse order of loading, and reports every failure.
 */
public final class ModelSet implements AutoCloseable {

    private static final ObjectMapper JSON = Json.MAPPER;
    private static final double DEFAULT_SCALING_FACTOR = 0.18215;
    private static final long DEFAULT_LATENT_CHANNELS = 4;
    static final int DEFAULT_IMAGE_SIZE = 512;

    private final String name;
    private final Path dir;
    private final String hash;
    private final ModelSettings settings;
    private final Map<String, Object> schedulerConfig;
    private final double scalingFactor;
    private final int latentChannels;
    private final int vaeScaleFactor;
    private final int textHiddenSize;
    private final ElementType floatType;
    private final SessionFactory sessions;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final ClipTokenizer tokenizer;
    private final TextEncoder textEncoder;
    private final UNet unet;
    private final VaeDecoder vaeDecoder;
    private final VaeEncoder vaeEncoder;
    private boolean closed;

    private ModelSet(Path dir, SessionFactory sessions) {
        this.dir = dir;
        this.name = dir.getFileName().toString();
        this.sessions = sessions;
        try {
            require(dir.resolve("model_index.json"));
            Path schedulerFile = require(dir.resolve("scheduler").resolve("scheduler_config.json"));
            this.schedulerConfig = readMap(schedulerFile);
            String schedulerClass = String.valueOf(schedulerConfig.getOrDefault("_class_name", "PNDMScheduler"));
            JsonNode vaeConfig = Json.readOptional(dir.resolve("vae_decoder").resolve("config.json"));
            JsonNode unetConfig = Json.readOptional(dir.resolve("unet").resolve("config.json"));
            this.scalingFactor = vaeConfig.path("scaling_factor").asDouble(DEFAULT_SCALING_FACTOR);

            this.tokenizer = own(ClipTokenizer.load(require(dir.resolve("tokenizer"))));
            this.textEncoder = own(new TextEncoder(dir.resolve("text_encoder"), sessions));
            this.unet = own(new UNet(dir.resolve("unet"), sessions));
            this.vaeDecoder = own(new VaeDecoder(dir.resolve("vae_decoder"), sessions));
            this.vaeEncoder = Files.isRegularFile(dir.resolve("vae_encoder").resolve("model.onnx"))
                    ? own(new VaeEncoder(dir.resolve("vae_encoder"), sessions))
                    : null;

            this.floatType = unet.floatType();
            if (textEncoder.outputType() != floatType) {
                throw new ModelLoadException("text_encoder outputs " + textEncoder.outputType() + " but unet takes " + floatType);
            }
            long teHidden = textEncoder.declaredHiddenSize();
            long unetHidden = unet.declaredHiddenSize();
            if (teHidden > 0 && unetHidden > 0 && teHidden != unetHidden) {
                throw new ModelLoadException("text_encoder hidden size " + teHidden + " does not match unet encoder_hidden_states " + unetHidden);
            }
            this.textHiddenSize = Math.toIntExact(teHidden > 0 ? teHidden : unetHidden > 0 ? unetHidden
                    : textEncoder.probeHiddenSize(sessions.environment(), tokenizer.encode("").ids()));
            this.latentChannels = latentChannels(vaeConfig, unetConfig);
            this.vaeScaleFactor = vaeScaleFactor(vaeConfig);
            int nativeSize = sampleSize(unetConfig) * vaeScaleFactor / 8 * 8;
            this.settings = ModelSettings.from(Json.readOptional(dir.resolve("denoise.json")), nativeSize, vaeScaleFactor,
                    SchedulerKind.forClass(schedulerClass).orElse(SchedulerKind.PNDM).id());
            newScheduler(settings.defaults().scheduler(), 0.0);
            this.hash = hash(dir);
        } catch (RuntimeException e) {
            closeOwned(e);
            throw e;
        }
    }

    /**
     * Loads the model in {@code dir}.
     *
     * @throws ModelLoadException naming the missing file or mismatched tensor; every part loaded before the failure
     *                            is closed
     */
    public static ModelSet load(Path dir, SessionFactory sessions) {
        if (!Files.isDirectory(dir)) {
            throw new ModelLoadException("model directory " + dir + " does not exist");
        }
        return new ModelSet(dir, sessions);
    }

    private <T extends AutoCloseable> T own(T part) {
        owned.add(part);
        return part;
    }

    /**
     * Latent channels, from every place that states them — {@code unet/config.json} ({@code in_channels},
     * {@code out_channels}), {@code vae_decoder/config.json} ({@code latent_channels}) and the static channel
     * dimensions of the UNet's input and output and the decoder's input — which must all agree; 4 (Stable
     * Diffusion's) when none does, which the decoder's probe run then proves or refutes.
     */
    private int latentChannels(JsonNode vaeConfig, JsonNode unetConfig) {
        Map<String, Long> stated = new LinkedHashMap<>();
        stated.put("unet/config.json in_channels", unetConfig.path("in_channels").asLong(-1));
        stated.put("unet/config.json out_channels", unetConfig.path("out_channels").asLong(-1));
        stated.put("unet input 'sample'", unet.declaredChannels());
        stated.put("unet output", unet.declaredOutputChannels());
        stated.put("vae_decoder/config.json latent_channels", vaeConfig.path("latent_channels").asLong(-1));
        stated.put("vae_decoder input 'latent_sample'", vaeDecoder.declaredChannels());
        stated.values().removeIf(c -> c <= 0);
        long channels = stated.isEmpty() ? DEFAULT_LATENT_CHANNELS : stated.values().iterator().next();
        if (stated.values().stream().anyMatch(c -> c != channels)) {
            throw new ModelLoadException("latent channels disagree: " + stated
                    + " (a UNet whose input and output channels differ, such as an inpainting UNet, is not supported)");
        }
        return (int) channels;
    }

    /**
     * Pixels per latent cell: {@code 2^(len(block_out_channels) - 1)} from {@code vae_decoder/config.json} as
     * diffusers computes it, else the decoder's static shapes, else a probe run of the decoder.
     */
    private int vaeScaleFactor(JsonNode vaeConfig) {
        JsonNode blocks = vaeConfig.path("block_out_channels");
        int factor;
        String source;
        if (blocks.isArray() && blocks.size() > 0) {
            factor = 1 << (blocks.size() - 1);
            source = "vae_decoder/config.json block_out_channels";
        } else if (vaeDecoder.declaredScaleFactor() > 0) {
            factor = vaeDecoder.declaredScaleFactor();
            source = "vae_decoder static shapes";
        } else {
            factor = vaeDecoder.probeScaleFactor(sessions.environment(), latentChannels);
            source = "vae_decoder probe run";
        }
        if (factor < 1 || factor > 64 || Integer.bitCount(factor) != 1) {
            throw new ModelLoadException("VAE scale factor " + factor + " (from " + source + ") is not a power of two in 1..64");
        }
        return factor;
    }

    /**
     * The UNet's native latent size: {@code sample_size} from {@code unet/config.json}, else the static size of its
     * {@code sample} input, else {@value #DEFAULT_IMAGE_SIZE} pixels' worth, the default of diffusers'
     * {@code OnnxStableDiffusionPipeline}.
     */
    private int sampleSize(JsonNode unetConfig) {
        JsonNode size = unetConfig.path("sample_size");
        if (size.isArray() && size.size() > 0) {
            size = size.get(0);
        }
        if (size.canConvertToInt() && size.asInt() > 0) {
            return size.asInt();
        }
        long[] declared = unet.declaredLatentSize();
        if (declared != null) {
            return (int) declared[0];
        }
        return Math.max(1, DEFAULT_IMAGE_SIZE / vaeScaleFactor);
    }

    /** The directory name, which is the model's id in requests. */
    public String name() {
        return name;
    }

    public Path dir() {
        return dir;
    }

    /**
     * The first 10 hex digits of a SHA-256 over the model's files (paths and contents), as other SD tools show it;
     * symbolic links (a model directory linked into {@code denoise.models.dir}) are followed.
     */
    public String hash() {
        return hash;
    }

    public ModelSettings settings() {
        return settings;
    }

    /** What this model offers to requests: its defaults, limits and schedulers. */
    public ModelProfile profile() {
        return new ModelProfile(name, settings.defaults(), settings.limits(), List.copyOf(Schedulers.ids()),
                supportsImageToImage());
    }

    public double scalingFactor() {
        return scalingFactor;
    }

    public int latentChannels() {
        return latentChannels;
    }

    /** Pixels per latent cell along each axis (8 for Stable Diffusion; read from the model, never assumed). */
    public int vaeScaleFactor() {
        return vaeScaleFactor;
    }

    /**
     * The width of the text states ({@code hidden} of {@code [batch, 77, hidden]}): declared by the text encoder's
     * or the UNet's graph, else found by one probe run of the text encoder at load.
     */
    public int textHiddenSize() {
        return textHiddenSize;
    }

    /** float32 or float16: the dtype of the model's float tensors. */
    public ElementType floatType() {
        return floatType;
    }

    /**
     * Whether the UNet takes one timestep per row of a batch ({@code timestep [batch]}), so generations at different
     * timesteps can share a UNet call; where it takes one timestep per call (a scalar or {@code [1]}), only those at
     * the same timestep can (see {@link BatchedLoop}).
     */
    public boolean timestepPerSample() {
        return unet.timestepPerSample();
    }

    public boolean supportsImageToImage() {
        return vaeEncoder != null;
    }

    /**
     * A new scheduler for one generation, configured from the model's {@code scheduler_config.json}; {@code eta} is
     * DDIM's (ignored by the others).
     */
    public Scheduler newScheduler(String id, double eta) {
        return Schedulers.create(id, SchedulerConfig.fromMap(schedulerConfig), eta);
    }

    /** The device the sessions run on ({@code cpu} or {@code cuda:N}). */
    public String device() {
        return sessions.activeDevice();
    }

    SessionFactory sessions() {
        return sessions;
    }

    ClipTokenizer tokenizer() {
        return tokenizer;
    }

    TextEncoder textEncoder() {
        return textEncoder;
    }

    UNet unet() {
        return unet;
    }

    VaeDecoder vaeDecoder() {
        return vaeDecoder;
    }

    VaeEncoder vaeEncoder() {
        return vaeEncoder;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = new IllegalStateException("closing model " + name + " failed");
        closeOwned(failure);
        if (failure.getSuppressed().length > 0) {
            throw failure;
        }
    }

    /** Closes every owned part in reverse order of loading, adding each failure to {@code failures}. */
    private void closeOwned(Throwable failures) {
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                failures.addSuppressed(e);
            }
        }
        owned.clear();
    }

    private static Path require(Path path) {
        if (!Files.exists(path)) {
            throw new ModelLoadException("missing " + path);
        }
        return path;
    }

    private static Map<String, Object> readMap(Path file) {
        try {
            return JSON.readValue(file.toFile(), new TypeReference<Map<String, Object>>() { });
        } catch (IOException e) {
            throw new ModelLoadException("cannot parse " + file + ": " + e.getMessage(), e);
        }
    }


    private static String hash(Path dir) {
        try (Stream<Path> files = Files.walk(dir, FileVisitOption.FOLLOW_LINKS)) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
                sha.update(dir.relativize(file).toString().replace('\\', '/').getBytes(java.nio.charset.StandardCharsets.UTF_8));
                try (InputStream in = Files.newInputStream(file)) {
                    int n;
                    while ((n = in.read(buffer)) > 0) {
                        sha.update(buffer, 0, n);
                    }
                }
            }
            return HexFormat.of().formatHex(sha.digest()).substring(0, 10);
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new ModelLoadException("cannot hash " + dir + ": " + e.getMessage(), e);
        }
    }
}
