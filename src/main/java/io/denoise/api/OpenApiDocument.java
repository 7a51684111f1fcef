package io.denoise.api;

import org.eclipse.microprofile.openapi.OASFactory;
import org.eclipse.microprofile.openapi.OASFilter;
import org.eclipse.microprofile.openapi.models.OpenAPI;

import java.util.List;

/**
 * What the annotations cannot say about the whole document: no route needs credentials yet (an empty security
 * requirement; API keys will add a bearer scheme here).
 */
public class OpenApiDocument implements OASFilter {

    @Override
    public void filterOpenAPI(OpenAPI openAPI) {
        openAPI.setSecurity(List.of(OASFactory.createSecurityRequirement()));
    }
}
