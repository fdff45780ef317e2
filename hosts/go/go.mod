module forgeauthz

go 1.19
