package io.denoise.api;

import org.eclipse.microprofile.openapi.OASFactory;
import org.eclipse.microprofile.openapi.OASFilter;
import org.eclipse.microprofile.openapi.models.OpenAPI;
import org.eclipse.microprofile.openapi.models.security.SecurityScheme;

import java.util.List;

/**
 * What the annotations cannot say about the whole document: every route takes an API key as a bearer token
 * ({@link AuthFilter}), so the document declares the scheme and requires it everywhere, and generated clients and
 * Swagger UI send it.
 */
public class OpenApiDocument implements OASFilter {

    /** The scheme's name in the document. */
    static final String SCHEME = "apiKey";

    @Override
    public void filterOpenAPI(OpenAPI openAPI) {
        if (openAPI.getComponents() == null) {
            openAPI.setComponents(OASFactory.createComponents());
        }
        openAPI.getComponents().addSecurityScheme(SCHEME, OASFactory.createSecurityScheme()
                .type(SecurityScheme.Type.HTTP).scheme("bearer")
                .description("An API key (dn_…): the keys command, POST /v1/admin/keys, or .denoise/api-key in the local run"));
        openAPI.setSecurity(List.of(OASFactory.createSecurityRequirement().addScheme(SCHEME)));
    }
}
