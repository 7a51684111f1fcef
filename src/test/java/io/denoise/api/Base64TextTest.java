package io.denoise.api;

import org.junit.jupiter.api.Test;

import java.util.Base64;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The init image's base64 decoding: what java.util.Base64 decodes, line breaks allowed, anything else refused. */
class Base64TextTest {

    @Test
    void decodesLikeTheJdkWithAndWithoutPaddingAndLineBreaks() {
        Random random = new Random(1);
        for (int n = 0; n < 200; n++) {
            byte[] data = new byte[n];
            random.nextBytes(data);
            String padded = Base64.getEncoder().encodeToString(data);
            assertArrayEquals(data, Base64Text.decode(padded, 0), "padded, " + n + " bytes");
            assertArrayEquals(data, Base64Text.decode("data:x;base64," + padded, 14), "from an offset");
            assertArrayEquals(data, Base64Text.decode(Base64.getEncoder().withoutPadding().encodeToString(data), 0), "unpadded");
            assertArrayEquals(data, Base64Text.decode(Base64.getMimeEncoder(8, "\r\n".getBytes()).encodeToString(data), 0), "wrapped");
        }
    }

    @Test
    void refusesWhatIsNotBase64() {
        for (String bad : new String[] {"%%%not-base64", "QQ=", "Q", "QQ==QQ==", "QUJD\u0000", "QUJ\u00e9", "Q===", "QQ=A"}) {
            assertThrows(IllegalArgumentException.class, () -> Base64Text.decode(bad, 0), bad);
        }
    }
}
