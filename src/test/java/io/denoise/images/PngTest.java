package io.denoise.images;

import org.junit.jupiter.api.Test;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.stream.ImageInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

public class PngTest {

    @Test
    void encodedPixelsDecodeToTheSameValues() throws IOException {
        int w = 37;
        int h = 11;
        byte[] rgb = new byte[w * h * 3];
        new Random(1).nextBytes(rgb);
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(Png.encode(w, h, rgb, Map.of())));
        assertEquals(w, image.getWidth());
        assertEquals(h, image.getHeight());
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = (y * w + x) * 3;
                int expected = ((rgb[i] & 0xff) << 16) | ((rgb[i + 1] & 0xff) << 8) | (rgb[i + 2] & 0xff);
                assertEquals(expected, image.getRGB(x, y) & 0xffffff, "pixel " + x + "," + y);
            }
        }
    }

    @Test
    void parametersChunkIsReadableLatinAsTextAndOtherScriptsAsInternationalText() throws IOException {
        String latin = "a red circle\nNegative prompt: blue\nSteps: 20, Seed: 7";
        String other = "ein Kreis — 円";
        Map<String, String> chunks = textChunks(Png.encode(2, 2, new byte[12], Map.of("parameters", latin, "comment", other)));
        assertEquals(latin, chunks.get("tEXt:parameters"));
        assertEquals(other, chunks.get("iTXt:comment"));
    }

    /** Reads text chunks through ImageIO's native PNG metadata tree. */
    public static Map<String, String> textChunks(byte[] png) throws IOException {
        Map<String, String> found = new HashMap<>();
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(png))) {
            ImageReader reader = ImageIO.getImageReaders(in).next();
            reader.setInput(in);
            IIOMetadata metadata = reader.getImageMetadata(0);
            Node root = metadata.getAsTree("javax_imageio_png_1.0");
            for (Node n = root.getFirstChild(); n != null; n = n.getNextSibling()) {
                if (n.getNodeName().equals("tEXt") || n.getNodeName().equals("iTXt")) {
                    for (Node e = n.getFirstChild(); e != null; e = e.getNextSibling()) {
                        NamedNodeMap a = e.getAttributes();
                        String text = n.getNodeName().equals("tEXt") ? a.getNamedItem("value").getNodeValue()
                                : a.getNamedItem("text").getNodeValue();
                        found.put(n.getNodeName() + ":" + a.getNamedItem("keyword").getNodeValue(), text);
                    }
                }
            }
            reader.dispose();
        }
        return found;
    }

    /** {type, keyword, text} of each tEXt and iTXt chunk, in file order, read from the raw chunk stream. */
    public static List<String[]> rawTextChunks(byte[] png) throws IOException {
        List<String[]> found = new ArrayList<>();
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(png));
        in.skipNBytes(8);
        while (true) {
            int length = in.readInt();
            String type = new String(in.readNBytes(4), StandardCharsets.US_ASCII);
            byte[] data = in.readNBytes(length);
            in.readInt();
            if (type.equals("tEXt") || type.equals("iTXt")) {
                int zero = 0;
                while (data[zero] != 0) {
                    zero++;
                }
                String keyword = new String(data, 0, zero, StandardCharsets.ISO_8859_1);
                String text = type.equals("tEXt")
                        ? new String(data, zero + 1, data.length - zero - 1, StandardCharsets.ISO_8859_1)
                        : new String(data, zero + 5, data.length - zero - 5, StandardCharsets.UTF_8);
                found.add(new String[] {type, keyword, text});
            }
            if (type.equals("IEND")) {
                return found;
            }
        }
    }

    /** keyword → text of each tEXt and iTXt chunk, in file order, read from the raw chunk stream. */
    public static Map<String, String> textByKeyword(byte[] png) throws IOException {
        Map<String, String> found = new LinkedHashMap<>();
        for (String[] chunk : rawTextChunks(png)) {
            found.put(chunk[1], chunk[2]);
        }
        return found;
    }
}
