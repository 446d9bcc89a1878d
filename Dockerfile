# The local try with Docker: the static mcast binary from `make build`, alone in
# an empty image. Nothing is pulled from a registry (FROM scratch is not an
# image). Build it through `make up`, which runs `make build` first.
FROM scratch
# bin/sender and bin/receiver are symlinks to mcast; the binary picks the
# command from the name it was started as (argv[0]).
COPY bin/mcast bin/sender bin/receiver /usr/local/bin/
ENV PATH=/usr/local/bin
# Joining a group and binding port 28000 need no privilege.
USER 65534:65534
CMD ["mcast", "help"]
